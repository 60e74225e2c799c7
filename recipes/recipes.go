// Package recipes holds the recipes that ship with sqc, embedded in the
// binary so that a user's recipe can build on one by name
// (base "graph.sqr") wherever it lives.
//
// Every file here must check (sqc recipe check) and be in canonical form
// (sqc recipe fmt changes nothing); the dsl package's tests enforce both.
package recipes

import "embed"

// FS holds the shipped recipes, *.sqr at its root.
//
//go:embed *.sqr
var FS embed.FS
