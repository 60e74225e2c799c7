package passes

import "fmt"

// This file exports the pass manager's per-option checks for front ends that
// check a pipeline piece by piece and want to place each error at the text
// that caused it (the recipe language reports FILE:LINE:COL for every
// option). Build runs the same checks on a whole pipeline.

// OptionOf returns the declaration of p's option name, or nil when p has no
// such option.
func OptionOf(p *Pass, name string) *Option {
	for i := range p.Options {
		if p.Options[i].Name == name {
			return &p.Options[i]
		}
	}
	return nil
}

// OptionNames returns the names of p's options in declaration order.
func OptionNames(p *Pass) []string {
	names := make([]string, len(p.Options))
	for i, o := range p.Options {
		names[i] = o.Name
	}
	return names
}

// CheckOption checks one value of p's option name and returns it as Build
// would store it: command-line text is converted to the option's type, an
// int64 is accepted where a float64 is wanted, and the value must lie in the
// option's range or enum. Typed values are bool, int64, float64, string,
// []string, Ratio and Selector. The error does not name the pass or the
// option (the caller places it); an unknown option's error suggests the
// nearest name.
func CheckOption(p *Pass, name string, v any) (any, error) {
	decl := OptionOf(p, name)
	if decl == nil {
		return nil, fmt.Errorf("pass %s has no option %q%s", p.Name, name, suggest(name, OptionNames(p)))
	}
	val, err := convert(*decl, v)
	if err == nil {
		err = checkValue(*decl, val)
	}
	if err != nil {
		return nil, err
	}
	return val, nil
}

// MissingOptions returns, in declaration order, the required options of p
// (Option.Required) that given does not set.
func MissingOptions(p *Pass, given map[string]any) []string {
	var missing []string
	for _, o := range p.Options {
		if _, ok := given[o.Name]; o.Required && !ok {
			missing = append(missing, o.Name)
		}
	}
	return missing
}

// Suggest returns ` (did you mean "x"?)` naming the candidate nearest to
// word, when one is close enough to be a likely misspelling (an edit
// distance of at most 2, or a third of the word's length), and "" otherwise.
// The phrase is meant to follow an error message directly.
func Suggest(word string, candidates []string) string {
	return suggest(word, candidates)
}

// PassNames returns the names of every registered pass, sorted.
func PassNames() []string {
	all := All()
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = p.Name
	}
	return names
}
