// Package engine is the .sqe file of the Ampere backend: the protobuf
// messages (engine.proto) and the container around them, a header with a
// magic number, the format version, the payload's length and its SHA-256,
// so that a truncated, corrupt or newer file is a clear error rather than
// a protobuf decoding accident.
package engine

//go:generate protoc --go_out=. --go_opt=paths=source_relative engine.proto
