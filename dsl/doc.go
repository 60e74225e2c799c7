// Package dsl implements sqc's recipe language: the files (.sqr) in which a
// user says which passes turn a model into an engine, with which options,
// for which GPU. A recipe reads like a short plan:
//
//	# ResNet-50, 2:4 sparse INT8
//	target sm_80
//	base "graph.sqr"
//
//	pad-channels { multiple = 8 }
//	prune {
//	  pattern = 2:4
//	  method  = sparsegpt
//	  skip    = [op("Gemm"), name("conv1")]
//	  layers name("layer4.*") { method = magnitude }
//	}
//	calibrate { method = entropy; samples = 512 }
//
// Parse reads the syntax only; Check gives it meaning against the pass
// registry (package passes); Pipeline returns the checked steps as the
// specs passes.Build takes; Format writes the canonical form; WritePipeline
// writes a built pipeline back as a flat recipe.
//
// # Grammar
//
// The grammar is loose on purpose: a statement is any word with an optional
// argument and block, an item any key with a value. Keywords, step names,
// option names and value types are checked afterwards by Check, which can
// then say `unknown step "quantise" (did you mean "quantize"?)` at the
// offending word instead of naming a token it did not expect. In EBNF:
//
//	recipe    = { statement | sep } .
//	sep       = newline | ";" .             (two statements on a line need ";")
//	statement = word [ value ] [ block ] .
//	block     = "{" { item | sep } "}" .
//	item      = word "=" value              (an option)
//	          | word value block .          (layers SELECTOR { ... })
//	value     = string | number | ratio | regexp | call | word | list .
//	call      = word "(" [ value { "," value } ] ")" .
//	list      = "[" [ value { "," value } [ "," ] ] "]" .  (new lines allowed inside)
//	word      = ( letter | "_" ) { letter | digit | "_" | "." | "-" } .
//	number    = [ "-" ] ( digits [ "." [ digits ] ] | "." digits ) [ ( "e" | "E" ) [ "+" | "-" ] digits ] .
//	ratio     = digits ":" digits .
//	string    = `"` { character | escape } `"` .  (Go's escapes, one line)
//	regexp    = "/" { character | "\" character } "/" .  (RE2 syntax; \/ for a slash)
//	comment   = ( "#" | "//" ) { character } .  (to the end of the line)
//
// # Statements
//
//	target ARCH          the GPU: sm_80, sm_86, sm_87, sm_89 or sm_90 (see
//	                     Targets). At most one; a recipe without one takes its
//	                     base's, and one with neither leaves the choice to
//	                     the command line.
//	base "FILE"          build on another recipe; at most one, before the
//	                     steps. FILE is relative to the recipe's directory;
//	                     a bare name not found there names a built-in recipe
//	                     (package recipes: graph.sqr, dense-int8.sqr ...).
//	STEP [{ ... }]       run the pass named STEP (every registered pass is a
//	                     step; `sqc passes` lists them) with the options in
//	                     its block.
//	plugin "PATH" {...}  run the pass a plugin serves (package plugins; a
//	                     plugin is a program written with package
//	                     plugins/sqcplugin). Check starts the plugin to
//	                     learn its pass and options, which are then checked
//	                     as a built-in step's are. PATH is relative to the
//	                     recipe's directory. In the block, sha256 = "HEX"
//	                     pins the binary's checksum, and timeout = SECONDS
//	                     (every plugin pass has it; default 60) bounds the
//	                     step's time. A plugin loaded otherwise (sqc
//	                     --plugin, SQC_PLUGIN_PATH) is a step by its pass's
//	                     name, as a built-in pass is.
//
// Inside a step's block, `key = value` sets an option and
// `layers SELECTOR { key = value ... }` sets options for the nodes the
// selector picks (a passes.OverrideSpec; later blocks win where several
// match). Steps without options are written bare (`dce`).
//
// # Values
//
// Each option has a kind (passes.OptionKind) and takes:
//
//	bool             true or false
//	int              an integer: 512
//	float            a number: 0.5, 1e-3, or an integer
//	string           a word or a quoted string: magnitude, "per channel"
//	                 (options with a fixed set of values name it in
//	                 `sqc passes`)
//	list of strings  [a, "b c"]; numbers are taken as written, for passes
//	                 that read a list of numbers: [0.485, 0.456, 0.406]
//	ratio            N:M with 0 <= N <= M, M > 0: 2:4
//	selector         name("GLOB"), op("GLOB"): a shell pattern (path.Match)
//	                 over the whole node name or op type; name(/RE/),
//	                 op(/RE/), or a bare /RE/ for names: a regular expression
//	                 that matches anywhere (anchor it with ^ and $); or a list
//	                 of these, which picks a node when any of them does
//	                 ([] picks none)
//
// # Steps
//
// The steps of the built-in passes registered today, with their options
// (`sqc passes` prints the authoritative list, defaults included):
//
//	infer-shapes      infer the dtype and shape of every value
//	remove-identity   remove Identity and inference-time Dropout nodes
//	fold-constants    evaluate nodes whose inputs are all constant
//	    keep-qdq        bool, default true: keep QuantizeLinear/DequantizeLinear nodes
//	    max-elements    int in [0, 2^40], default 16777216: fold only outputs this small
//	dce               remove nodes whose outputs nothing reads
//	fold-batchnorm    fold inference BatchNormalization into the conv or gemm before it
//	fuse-epilogue     fuse bias, residual Add and Relu/Clip into FusedConv/FusedGemm
//	pad-channels      pad conv channel counts to what the INT8 kernels need
//	    multiple        int in [1, 65536], default 4: input channels
//	    out-multiple    int in [1, 65536], default 1: output channels (sliced off after)
//	space-to-depth    strided INT8 convs of few channels (an RGB stem) as stride-1
//	                  convs over a SpaceToDepth of their input, same output bits
//	    max-channels    int in [1, 65536], default 4: rewrite convs with at most this many input channels
//	assign-layout     store conv activations NHWC and weights OHWI
//	    layout          NHWC
//	    weight-layout   OHWI (default) or OIHW
//	    input-layout    keep (default) or NHWC
//	lower-int8        lower Q/DQ patterns around Conv, Gemm and MatMul into QConv/QGemm
//	    skip            selector: layers to leave in Q/DQ float form
//	    float-outputs   bool, default true
//	calibrate         (an analysis) choose an int8 range for every activation by running
//	                  the graph on calibration data: data, format, samples, batch,
//	                  resize, crop, scale, mean, std, layout, channels, method
//	                  (entropy, max, percentile, mse), percentile, cache, values, progress
//
// # Bases
//
// The base's steps come first, in its order. A step of the recipe whose pass
// the base already has is merged into every step of that pass in the base
// rather than added: its options replace the base's key by key (an option it
// does not set keeps the base's value) and its layers blocks come after the
// base's, so they win where both match a node. Any other step is appended
// after the base's steps, in the recipe's order. The recipe's target, when
// it names one, replaces the base's. Bases may have bases; a cycle is an
// error.
//
// # Checks
//
// Check reports every problem at once, sorted by position, each as
// FILE:LINE:COL: message quoting the offending text, with "did you mean"
// for near misses: unknown statements, steps, options, selectors and
// targets; values of the wrong type or out of range; an option set twice in
// a block; a misplaced or missing base or a cycle of bases; a step whose
// required transformation (passes.Pass.Requires) comes later or is missing;
// a step without a value for a required option (passes.Option.Required).
//
// # Canonical form
//
// Format (`sqc recipe fmt`) writes one statement a line, blocks indented by
// two spaces, '=' signs and end-of-line comments aligned over runs of
// consecutive lines, a block written on one line kept on one line when it
// holds options only, comments and paragraphs (blank lines) kept. Its output
// formats to itself.
package dsl
