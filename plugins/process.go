package plugins

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/sqc-project/sqc/passes"
	"github.com/sqc-project/sqc/plugins/internal/wire"
	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// process is a running plugin.
type process struct {
	client *plugin.Client
	cmd    *exec.Cmd
	rpc    wirepb.PassClient
	out    *output
	// stopped is set when sqc stops the process, so that a step it was
	// running is not reported as a crash.
	stopped atomic.Bool
}

// start starts the plugin binary and connects to its Pass service.
func (p *Plugin) start() (*process, error) {
	cmd := exec.Command(p.path)
	ownGroup(cmd)
	out := newOutput(outputFor(p.cfg), filepath.Base(p.path))
	cc := &plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{wire.ProtocolVersion: {wire.PluginName: &wire.GRPCPlugin{}}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		// go-plugin logs every line a plugin writes, and its own steps, at
		// debug and trace level; sqc reports through errors instead.
		Logger:          hclog.NewNullLogger(),
		StartTimeout:    p.cfg.StartTimeout,
		Stderr:          out,
		SyncStdout:      out,
		SyncStderr:      out,
		GRPCDialOptions: wire.DialOptions(),
	}
	p.mu.Lock()
	if p.pin != nil {
		cc.SecureConfig = &plugin.SecureConfig{Checksum: p.pin, Hash: sha256.New()}
	}
	p.mu.Unlock()
	client := plugin.NewClient(cc)
	proc := &process{client: client, cmd: cmd, out: out}
	rpc, err := client.Client()
	if err != nil {
		proc.kill()
		return nil, p.startError(err, proc)
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		proc.kill()
		return nil, fmt.Errorf("plugin %s: %v", p.display, err)
	}
	pc, ok := raw.(wirepb.PassClient)
	if !ok {
		proc.kill()
		return nil, fmt.Errorf("plugin %s: dispensed %T, want a pass client", p.display, raw)
	}
	proc.rpc = pc
	return proc, nil
}

// versionRE finds the plugin's version in go-plugin's handshake error.
var versionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// startError explains why a plugin did not start, in sqc's terms.
func (p *Plugin) startError(err error, proc *process) error {
	msg := err.Error()
	var execErr *exec.Error
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		sum, serr := fileSum(p.path)
		if serr != nil {
			return fmt.Errorf("plugin %s: the binary does not match its pinned sha256 %x", p.display, p.pin)
		}
		return fmt.Errorf("plugin %s: the binary's sha256 is %x, but %x is pinned", p.display, sum, p.pin)
	case strings.Contains(msg, "incompatible API version"):
		if m := versionRE.FindStringSubmatch(msg); m != nil {
			return fmt.Errorf("plugin %s speaks sqc plugin protocol %s, but this sqc speaks protocol %d: rebuild the plugin with this sqc's plugins/sqcplugin package", p.display, m[1], wire.ProtocolVersion)
		}
		return fmt.Errorf("plugin %s: %v", p.display, err)
	case strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("plugin %s was built with an incompatible hashicorp/go-plugin: rebuild it with this sqc's plugins/sqcplugin package", p.display)
	case strings.HasPrefix(msg, "Unrecognized remote plugin message: "):
		line := strings.TrimPrefix(msg, "Unrecognized remote plugin message: ")
		line, _, _ = strings.Cut(line, "\n")
		if line != "" {
			return fmt.Errorf("plugin %s wrote %q to standard output where sqc expects the plugin handshake (is it an sqc plugin? a plugin must not print to standard output before sqcplugin.Serve)", p.display, clip(line, 80))
		}
		return p.exitedEarly(proc)
	case strings.Contains(msg, "plugin exited before we could connect"):
		return p.exitedEarly(proc)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("plugin %s did not complete its handshake within %v; it was stopped", p.display, p.cfg.StartTimeout)
	case errors.As(err, &execErr) || strings.Contains(msg, "exec format error") || strings.Contains(msg, "permission denied"):
		return fmt.Errorf("plugin %s cannot be run: %v", p.display, err)
	}
	return fmt.Errorf("plugin %s: %v", p.display, err)
}

// exitedEarly explains a plugin that exited before its handshake.
func (p *Plugin) exitedEarly(proc *process) error {
	why := proc.out.lastWords()
	if why == "" {
		why = "it printed nothing (is it an sqc plugin?)"
	}
	return fmt.Errorf("plugin %s exited before its handshake: %s", p.display, why)
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}

// kill stops the process and every process it started, at once, and waits
// for go-plugin to reap it. A plugin keeps no state worth a graceful exit
// (go-plugin's would wait up to 2 s for a busy one, and leave its children
// behind), and what it wrote to its standard error before it died is still
// read to the end.
//
// The plugin leads its own process group, whose id is its pid. Linux does
// not hand out a number still in use as a group's id, so while the plugin
// or any process it started lives, the signal reaches them and no other.
func (proc *process) kill() {
	proc.stopped.Store(true)
	killGroup(proc.cmd)
	proc.client.Kill()
}

// exitState describes how the process ended, waiting up to wait for it to be
// seen gone; "" when it is still running.
func (proc *process) exitState(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for !proc.client.Exited() {
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ps := proc.cmd.ProcessState; ps != nil {
		return ps.String()
	}
	return "exited"
}

// stop stops the plugin's process, if it runs.
func (p *Plugin) stop() {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc != nil {
		proc.kill()
	}
}

// describe starts the plugin (keeping the process for the steps to come)
// and builds its pass from the description it gives.
func (p *Plugin) describe() (*passes.Pass, error) {
	proc, err := p.start()
	if err != nil {
		return nil, err
	}
	pass, err := p.describeWith(proc)
	if err != nil {
		proc.kill()
		return nil, err
	}
	p.mu.Lock()
	p.proc = proc
	p.mu.Unlock()
	return pass, nil
}

func (p *Plugin) describeWith(proc *process) (*passes.Pass, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StartTimeout)
	defer cancel()
	resp, err := proc.rpc.Describe(ctx, &wirepb.DescribeRequest{})
	if err != nil {
		return nil, p.callError(proc, ctx, err, p.cfg.StartTimeout, "the start timeout")
	}
	pass, err := newPass(resp)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", p.display, err)
	}
	pass.Run = p.run
	return pass, nil
}

// nameRE is the form of pass and option names: what pipelines and recipes
// can spell without quoting.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// reservedNames are names a plugin's pass cannot take: the recipe
// language's statement keywords (package dsl), which a step name would
// collide with.
var reservedNames = map[string]bool{"target": true, "base": true, "plugin": true, "layers": true}

// timeoutOption is the host option of every plugin pass.
const timeoutOption = "timeout"

// maxTimeoutSeconds is the largest timeout option: a week.
const maxTimeoutSeconds = 7 * 24 * 3600

// reservedOptions are option names the host uses itself.
var reservedOptions = map[string]bool{timeoutOption: true, "sha256": true}

// Bounds on a description, so that a plugin cannot flood sqc's messages.
const (
	maxNameLen = 64
	maxDocLen  = 1024
	maxOptions = 256
	maxEnum    = 256
)

// newPass checks a plugin's description and builds its pass, with the host
// option timeout added.
func newPass(d *wirepb.DescribeResponse) (*passes.Pass, error) {
	switch {
	case len(d.Name) > maxNameLen || !nameRE.MatchString(d.Name):
		return nil, fmt.Errorf("pass name %q: want lower-case words joined by '-', at most %d bytes", clip(d.Name, maxNameLen), maxNameLen)
	case reservedNames[d.Name]:
		return nil, fmt.Errorf("pass name %s is a keyword of the recipe language", d.Name)
	case d.Doc == "" || len(d.Doc) > maxDocLen:
		return nil, fmt.Errorf("pass %s: want a doc of 1 to %d bytes", d.Name, maxDocLen)
	case len(d.Options) > maxOptions:
		return nil, fmt.Errorf("pass %s declares %d options, at most %d are allowed", d.Name, len(d.Options), maxOptions)
	}
	pass := &passes.Pass{Name: d.Name, Doc: d.Doc}
	seen := map[string]bool{}
	for _, pd := range d.Options {
		o, err := wire.DeclToOption(pd)
		if err != nil {
			return nil, fmt.Errorf("pass %s: %v", d.Name, err)
		}
		if err := checkDecl(pass, o, seen); err != nil {
			return nil, fmt.Errorf("pass %s: option %s: %v", d.Name, clip(o.Name, maxNameLen), err)
		}
		seen[o.Name] = true
		pass.Options = append(pass.Options, o)
	}
	pass.Options = append(pass.Options, passes.Option{
		Name: timeoutOption, Kind: passes.Float, Default: DefaultTimeout.Seconds(), Min: 0.001, Max: maxTimeoutSeconds,
		Doc: "seconds the plugin may take for this step before sqc stops it (a host option of every plugin pass)",
	})
	return pass, nil
}

// checkDecl checks one option declaration as passes.Register would, with
// errors instead of panics.
func checkDecl(pass *passes.Pass, o passes.Option, seen map[string]bool) error {
	switch {
	case len(o.Name) > maxNameLen || !nameRE.MatchString(o.Name):
		return fmt.Errorf("want a name of lower-case words joined by '-', at most %d bytes", maxNameLen)
	case reservedOptions[o.Name]:
		return fmt.Errorf("the name is sqc's own")
	case seen[o.Name]:
		return fmt.Errorf("declared twice")
	case o.Doc == "" || len(o.Doc) > maxDocLen:
		return fmt.Errorf("want a doc of 1 to %d bytes", maxDocLen)
	case len(o.Enum) > maxEnum:
		return fmt.Errorf("%d allowed values, at most %d", len(o.Enum), maxEnum)
	case len(o.Enum) > 0 && o.Kind != passes.String:
		return fmt.Errorf("allowed values (enum) on a %v option, want a string option", o.Kind)
	case math.IsNaN(o.Min) || math.IsNaN(o.Max) || math.IsInf(o.Min, 0) || math.IsInf(o.Max, 0):
		return fmt.Errorf("min and max must be finite numbers")
	case o.Required && o.Default != nil:
		return fmt.Errorf("required, but it has a default")
	case !o.Required && o.Default == nil:
		return fmt.Errorf("no default, and not required")
	}
	if o.Default == nil {
		return nil
	}
	if _, text := o.Default.(string); text && o.Kind != passes.String {
		// CheckOption converts command-line text; a declared default must
		// already have the option's type.
		return fmt.Errorf("default %q is text, want a %v", o.Default, o.Kind)
	}
	tmp := &passes.Pass{Name: pass.Name, Options: []passes.Option{o}}
	if _, err := passes.CheckOption(tmp, o.Name, o.Default); err != nil {
		return fmt.Errorf("default: %v", err)
	}
	return nil
}

// seconds converts the timeout option to a duration.
func seconds(s float64) time.Duration {
	if s <= 0 || math.IsNaN(s) {
		return DefaultTimeout
	}
	return time.Duration(s * float64(time.Second))
}

// formatSeconds writes a timeout as the option was given.
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'g', -1, 64) + " s"
}
