// Package wirepb holds the Go types and gRPC service of the sqc plugin
// protocol, generated from sqcplugin.proto by protoc-gen-go v1.36.12 and
// protoc-gen-go-grpc v1.6.2 (with protoc 3.21.12).
//
// The generated files are committed so that building sqc or a plugin never
// needs protoc. The package is internal, as terraform-plugin-go keeps its
// generated code: plugin authors see package sqcplugin, the host package
// plugins, and package wire converts between these messages and the IR at
// the boundary, so the wire format can change without changing either API.
//
// To regenerate (needs protoc and the two generators on PATH:
// go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 and
// go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2):
//
//	go generate ./plugins/internal/wirepb
package wirepb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative sqcplugin.proto
