// Package permute reorders channels so that N:M masks keep more of the
// weights' magnitude: the channel-permutation method of Pool & Yu,
// "Channel Permutations for N:M Sparsity" (NeurIPS 2021), which apex ASP
// implements (apex/contrib/sparsity/permutation_lib.py).
//
// Permuting the input channels of a layer changes which weights share an
// N:M group. To leave the network's function unchanged, every value that
// carries those channels must be permuted the same way: Find walks from an
// activation through per-channel ops to the layers that produce the
// channels (their filters and biases are permuted) and the layers that
// read them (their weights' reduction is permuted); Apply rewrites the
// constants. Search chooses the order (see search.go for the method).
package permute
