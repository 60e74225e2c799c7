//go:build unix

package plugins

import (
	"os/exec"
	"syscall"
)

// ownGroup starts the plugin in a process group of its own, so that a hung
// plugin can be killed together with whatever it started.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the plugin's process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		// The group's id is the plugin's pid (Setpgid); an error means the
		// group is already gone.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
