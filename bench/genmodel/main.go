// Command genmodel writes a torchvision-style ResNet as ONNX with
// deterministic pseudo-random weights (package internal/zoo), for the
// benchmarks under bench/ and for trying sqc on a full-size network; with
// -qat, instead, the small QAT-exported 2:4 network of zoo.QATConvNet.
//
//	go run ./bench/genmodel -depth 50 -o resnet50.onnx
//	go run ./bench/genmodel -qat -o qatnet.onnx
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sqc-project/sqc/internal/zoo"
)

func main() {
	var c zoo.ResNetConfig
	flag.IntVar(&c.Depth, "depth", 50, "ResNet depth: 18, 34, 50 or 101")
	flag.IntVar(&c.Width, "width", 64, "stem channels (torchvision: 64)")
	flag.IntVar(&c.Size, "size", 224, "input height and width")
	flag.IntVar(&c.Classes, "classes", 1000, "classifier outputs")
	flag.IntVar(&c.Batch, "batch", 0, "batch dim (0: symbolic N)")
	flag.BoolVar(&c.ShapeChainFlatten, "shape-chain", false, "flatten with PyTorch's Shape/Gather/Unsqueeze/Concat/Reshape chain")
	flag.Uint64Var(&c.Seed, "seed", 1, "weight seed")
	qat := flag.Bool("qat", false, "write the QAT-exported 2:4 network (zoo.QATConvNet; only -seed applies)")
	out := flag.String("o", "", "output `file` (required)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: genmodel [-depth 50] [-width 64] [-size 224] ... -o FILE")
		os.Exit(2)
	}
	b, err := zoo.ResNet(c)
	if *qat {
		b, err = zoo.QATConvNet(c.Seed)
	}
	if err == nil {
		err = b.WriteFile(*out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "genmodel: %v\n", err)
		os.Exit(1)
	}
}
