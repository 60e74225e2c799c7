package dsl

import (
	"path/filepath"
	"strings"

	"github.com/sqc-project/sqc/plugins"
)

// kwSHA256 is the plugin step's item that pins the binary's checksum.
const kwSHA256 = "sha256"

// checkPlugin checks a `plugin "PATH" { ... }` step: it loads the plugin
// (package plugins starts it and registers its pass) and checks the block
// against the options the plugin declares, as checkStep does for a built-in
// pass, so the messages are the same. A relative PATH is relative to the
// recipe's directory, as a base's is. The block's sha256 item, when
// present, pins the binary.
func (r *Recipe) checkPlugin(st *Stmt, errs *ErrorList) *rstep {
	if st.Arg == nil || st.Arg.Kind != StringValue {
		at, got := st.Pos, ""
		if st.Arg != nil {
			at, got = st.Arg.Pos, ", got "+r.describe(st.Arg)
		}
		errs.errorf(at, `plugin needs the path of a plugin binary in quotes, as in: plugin "./my-pass" { key = value }%s`, got)
		return nil
	}
	path := st.Arg.Text
	if !filepath.IsAbs(path) && !r.builtin {
		path = filepath.Join(filepath.Dir(r.Filename), path)
	}
	var sum *Item
	if st.Block != nil {
		for _, it := range st.Block.Items {
			if it.Key != kwSHA256 || it.IsOverride() {
				continue
			}
			if sum != nil {
				errs.errorf(it.Pos, "option %s set twice in one block (first at %s)", kwSHA256, at(it.Pos, sum.Pos))
				return nil
			}
			sum = it
			if it.Value.Kind != StringValue {
				errs.errorf(it.Value.Pos, `sha256 needs the plugin binary's checksum in quotes, as in: sha256 = "9f86d081884c7d65...", got %s`, r.describe(it.Value))
				return nil
			}
		}
	}
	var cfg plugins.Config
	if sum != nil {
		cfg.SHA256 = sum.Value.Text
	}
	p, err := plugins.Load(path, cfg)
	if err != nil {
		pos := st.Arg.Pos
		if sum != nil && strings.Contains(err.Error(), "sha256") {
			pos = sum.Value.Pos
		}
		errs.errorf(pos, "%v", err)
		return nil
	}
	s := &rstep{pass: p.Pass(), pos: st.Pos, options: map[string]any{}}
	r.checkBlock(s, st.Block, func(it *Item) bool { return it == sum }, errs)
	return s
}
