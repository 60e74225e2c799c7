package plugins

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// output collects what a plugin process writes to its standard output and
// error. It forwards whole lines, prefixed with the plugin's name, to the
// user's writer (nil: nowhere), and keeps the last few kilobytes, so that
// the message for a plugin that crashed can quote its last words.
type output struct {
	mu     sync.Mutex
	to     io.Writer
	prefix string
	line   []byte // the incomplete last line
	tail   []byte
}

// tailMax is how much of a plugin's output is kept for error messages.
const tailMax = 8 << 10

func newOutput(to io.Writer, name string) *output {
	return &output{to: to, prefix: name + ": "}
}

// Write keeps p in the tail and forwards the lines it completes.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tail = append(o.tail, p...)
	if len(o.tail) > tailMax {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailMax:]...)
	}
	if o.to == nil {
		return len(p), nil
	}
	o.line = append(o.line, p...)
	for {
		i := bytes.IndexByte(o.line, '\n')
		if i < 0 {
			break
		}
		// The user's writer failing must not fail the plugin's stream.
		_, _ = io.WriteString(o.to, o.prefix+string(o.line[:i+1]))
		o.line = o.line[i+1:]
	}
	return len(p), nil
}

// lastWords picks the lines that best say why a plugin died: a Go panic or
// fatal error, else its last non-empty lines.
func (o *output) lastWords() string {
	o.mu.Lock()
	text := string(o.tail)
	o.mu.Unlock()
	lines := strings.Split(text, "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return l
		}
	}
	var last []string
	for i := len(lines) - 1; i >= 0 && len(last) < 3; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			last = append([]string{l}, last...)
		}
	}
	return strings.Join(last, "; ")
}
