// Package wire is the boundary between sqc's types and the plugin protocol's
// messages (package wirepb): the handshake both sides of a plugin connection
// agree on, the go-plugin glue that serves and dials the Pass service, and
// the converters of graphs, constant data and option values.
//
// The host (package plugins) and the SDK (package sqcplugin) both use it, so
// the two sides cannot disagree on an encoding, and neither exposes a
// protobuf type in its API.
//
// # Constant data out of band
//
// A graph crosses as a wirepb.Graph message, but the bytes of a constant of
// InlineMax bytes or more do not: the sender writes them into a weights file
// (each tensor at an offset aligned to Align bytes) and the message holds an
// Extent (offset, length). gRPC messages would otherwise have to carry a
// ResNet-50's 100 MB twice, with limits raised far above gRPC's 4 MiB
// default (a 64 MiB round trip measured 0.63 s). The plugin maps the request's
// file copy-on-write and its tensors point into the mapping, so receiving
// costs no copy; a tensor it returns unchanged goes back as an Extent into
// the request's file (Extent.input), so the host keeps its own copy and only
// what the plugin changed crosses back, through the response's file.
package wire

import (
	"context"
	"math"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/sqc-project/sqc/plugins/internal/wirepb"
)

// ProtocolVersion is the version of the sqc plugin protocol this build
// speaks. It changes when a message changes meaning: a plugin built against
// another version is refused at the handshake, with both versions named.
const ProtocolVersion = 1

// Handshake is what host and plugin check before anything else. The magic
// cookie only tells a plugin binary started by hand that it is one (it then
// says so and exits); it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SQC_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "3c1f6a0e9b8d4e27a5f0c2d1sqc-pass",
}

// PluginName is the name the Pass service is dispensed under.
const PluginName = "pass"

// MaxMessageSize bounds a gRPC message in either direction. Large constants
// travel in weights files, so a message holds the graph's structure and the
// constants below InlineMax: a few megabytes at most for real models. The
// limit is raised above gRPC's 4 MiB default so that a graph with unusually
// many small constants still crosses.
const MaxMessageSize = 256 << 20

// InlineMax is the size in bytes from which a constant's data goes into the
// weights file instead of the message.
const InlineMax = 4096

// Align is the alignment of every extent's offset in a weights file: a
// mapped tensor's data must be aligned for its element type (8 bytes at
// most), and 64 keeps each tensor on its own cache lines.
const Align = 64

// GRPCPlugin is the go-plugin glue of the Pass service: the plugin side
// serves Impl, the host side gets a wirepb.PassClient.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is the service a plugin serves; nil on the host.
	Impl wirepb.PassServer
}

// GRPCServer registers the Pass service (plugin side).
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	wirepb.RegisterPassServer(s, p.Impl)
	return nil
}

// GRPCClient returns the Pass service's client (host side).
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return wirepb.NewPassClient(c), nil
}

// ServerOptions raises the message limits of a plugin's gRPC server.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize)}
}

// DialOptions raises the message limits of the host's connection.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize))}
}

// alignUp rounds n up to a multiple of Align.
func alignUp(n int64) int64 { return (n + Align - 1) / Align * Align }

// maxInt is the largest int, as an int64 bound for sizes read off the wire.
const maxInt = int64(math.MaxInt)
