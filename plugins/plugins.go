// Package plugins runs third-party passes as plugins: separate programs,
// written with package sqcplugin, that sqc starts and talks to with
// hashicorp/go-plugin over gRPC. A loaded plugin's pass is registered with
// the pass manager (package passes) like a built-in one, so pipelines,
// recipes and "sqc passes" see no difference, and its options are checked
// against the schema the plugin declares, with the same messages.
//
// # Loading
//
// Load starts a plugin binary, checks the handshake (the sqc plugin
// protocol's version: a plugin built for another is refused with both
// versions named), asks for the pass's name, doc and options, checks them
// and registers the pass. The process stays up for the passes that follow,
// and is started again if it died. Shutdown stops every plugin process; a
// command calls it before it exits. LoadPath loads every executable in the
// directories of a list such as SQC_PLUGIN_PATH.
//
// A Config may pin the binary's sha256 (go-plugin's SecureConfig checks it
// at every start). Every plugin pass has a host option besides its own,
// timeout (seconds, DefaultTimeout), after which a step that has not
// answered is stopped.
//
// # Running a step
//
// The graph crosses as a protobuf message, not as .sqir text: the message
// is typed (no parser between two programs), encodes and decodes without a
// grammar's costs, and lets large constants stay out of it. Those, 4 KiB and
// more, are written to a weights file in a private temporary directory; the
// plugin maps it, and its tensors point into the mapping. What the plugin
// returns unchanged comes back as a reference into that file, and the host
// keeps its own tensor; changed and new constants come back through a
// second file. A ResNet-50 (102 MB of weights) makes the round trip in
// 50 ms when the plugin changes no weight and 190 ms when it changes every
// one (2 cores; TestResNet50RoundTrip), where gRPC messages of that size
// would take about a second (64 MiB took 0.63 s).
//
// # Trust
//
// Nothing a plugin returns is trusted: the result is decoded with bounds
// checks, must pass ir.Verify (with the sparsity and quantization
// invariants), and must keep the graph's input and output names. A plugin
// that crashes, overruns its timeout, writes garbage where the handshake
// belongs or returns an invalid graph fails the step with an error that
// names it; the host's graph is left as it was, and a process that misbehaved
// is killed (with any processes it started), never left behind.
package plugins

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sqc-project/sqc/passes"
)

// EnvPath is the environment variable that lists plugin directories,
// separated as in PATH.
const EnvPath = "SQC_PLUGIN_PATH"

// DefaultTimeout is the default of a plugin step's timeout option.
const DefaultTimeout = 60 * time.Second

// DefaultStartTimeout bounds starting a plugin and reading its pass's
// description when Config leaves it zero.
const DefaultStartTimeout = 10 * time.Second

// Config says how to load a plugin.
type Config struct {
	// SHA256, when set, is the hex sha256 the binary must have.
	SHA256 string
	// StartTimeout bounds the start and the description of the pass
	// (default DefaultStartTimeout).
	StartTimeout time.Duration
	// Output receives what the plugin writes to its standard output and
	// error after its handshake, line by line, each prefixed with the
	// plugin's file name; nil means the writer SetOutput gave. The last
	// lines are kept either way, to explain a crash.
	Output io.Writer
}

var (
	outMu     sync.Mutex
	defOutput io.Writer
)

// SetOutput sets where plugins loaded without a Config.Output write their
// diagnostics, from their next start on (nil: nowhere, the default). A
// command sets it to its standard error, so that the plugins a recipe loads
// are heard too.
func SetOutput(w io.Writer) {
	outMu.Lock()
	defOutput = w
	outMu.Unlock()
}

// outputFor returns the writer a plugin's output goes to.
func outputFor(cfg Config) io.Writer {
	if cfg.Output != nil {
		return cfg.Output
	}
	outMu.Lock()
	defer outMu.Unlock()
	return defOutput
}

// Plugin is a loaded plugin.
type Plugin struct {
	path    string // absolute
	display string // as first given, for messages
	pass    *passes.Pass
	cfg     Config
	// pin is the sha256 the binary must have, nil when not pinned.
	pin []byte
	// stamp is the file's size and modification time when described.
	stamp fileStamp

	// runMu serialises the plugin's steps; mu guards proc and pin, and is
	// never held while the plugin works, so that Shutdown (on an
	// interrupt, say) stops a plugin in the middle of a step at once.
	runMu sync.Mutex
	mu    sync.Mutex
	proc  *process
}

type fileStamp struct {
	size int64
	mod  time.Time
}

// Pass returns the pass the plugin serves, registered with the pass manager.
func (p *Plugin) Pass() *passes.Pass { return p.pass }

// Path returns the plugin binary's absolute path, links resolved.
func (p *Plugin) Path() string { return p.path }

// SHA256 returns the pinned checksum in hex, "" when the binary is not pinned.
func (p *Plugin) SHA256() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return hex.EncodeToString(p.pin)
}

// The host's state: plugins by absolute path and by pass.
var (
	mu     sync.Mutex
	byPath = map[string]*Plugin{}
	byPass = map[*passes.Pass]*Plugin{}
)

// Load loads the plugin at path and registers its pass. Loading a path again
// returns the same Plugin (the binary is described again if it changed on
// disk); a later Config may pin a checksum the first did not.
func Load(path string, cfg Config) (*Plugin, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", path, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real // a link to a loaded plugin is that plugin
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("plugin %s: no such file", path)
	case err != nil:
		return nil, fmt.Errorf("plugin %s: %v", path, err)
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return nil, fmt.Errorf("plugin %s: not an executable file", path)
	}
	var pin []byte
	if cfg.SHA256 != "" {
		if pin, err = parseSum(cfg.SHA256); err != nil {
			return nil, fmt.Errorf("plugin %s: %v", path, err)
		}
		if err := checkSum(abs, path, pin); err != nil {
			return nil, err
		}
	}
	stamp := fileStamp{st.Size(), st.ModTime()}

	mu.Lock()
	defer mu.Unlock()
	if p := byPath[abs]; p != nil {
		return p, p.reload(stamp, pin, cfg)
	}
	p := &Plugin{path: abs, display: path, cfg: cfg, pin: pin, stamp: stamp}
	pass, err := p.describe()
	if err != nil {
		return nil, err
	}
	if err := register(p, pass); err != nil {
		p.stop()
		return nil, err
	}
	p.pass = pass
	byPath[abs] = p
	byPass[pass] = p
	return p, nil
}

// reload brings an already loaded plugin up to date with a new load: a
// checksum pinned now holds from now on, and a binary changed on disk is
// described again (its pass keeps its name; the doc and options follow the
// new binary).
func (p *Plugin) reload(stamp fileStamp, pin []byte, cfg Config) error {
	p.mu.Lock()
	if pin != nil {
		p.pin = pin
	}
	same := stamp == p.stamp
	p.mu.Unlock()
	if same {
		return nil
	}
	p.stop()
	pass, err := p.describe()
	if err != nil {
		return err
	}
	if pass.Name != p.pass.Name {
		return fmt.Errorf("plugin %s: its pass was %s when first loaded and is now %s; one sqc process keeps one name per plugin", p.display, p.pass.Name, pass.Name)
	}
	p.pass.Doc, p.pass.Options = pass.Doc, pass.Options
	p.stamp = stamp
	return nil
}

// register adds the plugin's pass to the pass manager's registry.
func register(p *Plugin, pass *passes.Pass) (err error) {
	if other := passes.Lookup(pass.Name); other != nil {
		if q := byPass[other]; q != nil {
			return fmt.Errorf("plugin %s: pass %s is already served by plugin %s", p.display, pass.Name, q.display)
		}
		return fmt.Errorf("plugin %s: pass name %s is taken by a built-in pass", p.display, pass.Name)
	}
	defer func() {
		// describe checked everything Register does; a panic here would be
		// a disagreement between the two, reported rather than raised.
		if r := recover(); r != nil {
			err = fmt.Errorf("plugin %s: %v", p.display, r)
		}
	}()
	passes.Register(pass)
	return nil
}

// LoadPath loads every plugin in the directories of list, separated as in
// PATH (the form of SQC_PLUGIN_PATH): each regular, executable file whose
// name does not start with '.'. Empty entries are skipped; a missing
// directory is an error, as is a file there that is not a plugin.
func LoadPath(list string, cfg Config) ([]*Plugin, error) {
	var out []*Plugin
	var errs []error
	for _, dir := range filepath.SplitList(list) {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin directory %s: %v", dir, err))
			continue
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			st, err := os.Stat(path) // follows links, as PATH lookup does
			if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
				continue
			}
			p, err := Load(path, cfg)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// Of returns the plugin that serves pass, or nil for a built-in pass.
func Of(pass *passes.Pass) *Plugin {
	mu.Lock()
	defer mu.Unlock()
	return byPass[pass]
}

// Shutdown stops every plugin process, with whatever it started, at once
// (a step in progress fails, saying so), and removes the host's temporary
// files. The plugins stay loaded: a later step starts its plugin again.
func Shutdown() {
	mu.Lock()
	all := make([]*Plugin, 0, len(byPath))
	for _, p := range byPath {
		all = append(all, p)
	}
	mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop()
		}()
	}
	wg.Wait()
	removeWorkDir()
}

// parseSum reads a hex sha256.
func parseSum(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("sha256 %q: want 64 hexadecimal digits", s)
	}
	return b, nil
}

// fileSum returns the sha256 of a file.
func fileSum(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// checkSum compares a binary's sha256 with a pin, naming both on a mismatch.
func checkSum(abs, display string, pin []byte) error {
	sum, err := fileSum(abs)
	if err != nil {
		return fmt.Errorf("plugin %s: %v", display, err)
	}
	if string(sum) != string(pin) {
		return fmt.Errorf("plugin %s: the binary's sha256 is %x, but %x is pinned", display, sum, pin)
	}
	return nil
}
