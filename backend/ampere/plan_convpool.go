package ampere

import (
	"fmt"

	"github.com/sqc-project/sqc/backend/ampere/engine"
	"github.com/sqc-project/sqc/backend/ampere/kernels"
	"github.com/sqc-project/sqc/ir"
)

// convPoolFusion is the MaxPool a QConv's kernel computes too, and the
// pooled image's size.
type convPoolFusion struct {
	pool     *ir.Node
	poh, pow int
}

// fusablePool returns the MaxPool that the conv-pool kernel can compute
// together with QConv n (layer l, planned dense or not), or nil: a dense
// int8 convolution the kernel runs (16 input channels, stride 1, no
// residual), whose output is read only by an int8 MaxPool of 3×3 windows,
// stride 2, pad 1, ceil_mode 0 and no indices output (the ResNet stem).
// A node sqc tune forces stays unfused: tune times the conv variants.
func (p *planner) fusablePool(n *ir.Node, l gemmLayer, sparse bool) *convPoolFusion {
	if n.Op != "QConv" || l.conv == nil || l.outF32 || l.residual || sparse {
		return nil
	}
	if _, forced := p.opts.force[n.Name]; forced || kernels.SupportsConvPool(*l.conv, l.n) != nil {
		return nil
	}
	out := n.Outputs[0]
	if p.g.IsOutput(out) || len(p.users[out]) != 1 {
		return nil
	}
	pool := p.users[out][0]
	if pool.Op != "MaxPool" || len(pool.Inputs) != 1 || pool.Inputs[0] != out || pool.Outputs[0].Type.DType != ir.Int8 ||
		len(pool.Outputs) > 1 && pool.Outputs[1] != nil || pool.Attrs.Int("ceil_mode", 0) != 0 {
		return nil
	}
	ks := pool.Attrs.Ints("kernel_shape")
	if len(ks) != 2 || ks[0] != 3 || ks[1] != 3 || len(out.Type.Shape) != 4 {
		return nil
	}
	geo, err := ir.ResolveConvGeom(pool.Attrs, out.Type.Shape[2:], []int{3, 3}, false)
	if err != nil {
		return nil
	}
	poh, pow := kernels.PoolShape(l.conv.OH, l.conv.OW)
	for i := 0; i < 2; i++ {
		if geo.Strides[i] != 2 || geo.PadBegin[i] != 1 || geo.Dilations[i] != 1 {
			return nil
		}
	}
	if geo.In[0] != l.conv.OH || geo.In[1] != l.conv.OW || geo.Out[0] != poh || geo.Out[1] != pow {
		return nil
	}
	return &convPoolFusion{pool: pool, poh: poh, pow: pow}
}

// convPoolStep turns the QConv's GEMM step into the conv-pool kernel's:
// the same arguments (the GEMM sizes stay the convolution's, which the
// roofline and tune read) and the pooled size after them, one block a
// ConvPoolPatches patches of 8×8 pooled outputs and 64 channels, or one
// patch for the latency heuristic (OptBatch up to LatencyBatch: a
// 224×224 image has 49 patches, 13 blocks of 4 for 132 SMs), with two
// interleaved pixel tiles and five blocks an SM. On the H100
// (TestPerfConvPool, ResNet-34's stem, 2026-12-07) four patches a block
// ran batch 256 in 287 µs against 472 for the conv and the pool apart
// (1.64×), one patch 305; at batch 1 one patch of two tiles at five
// blocks an SM took 11.1 µs against 18.1 apart, four patches 26.7. The
// MaxPool is absorbed: no step of its own, and the conv's output gets no
// buffer.
func (p *planner) convPoolStep(s *engine.Step, f *convPoolFusion, conv kernels.ConvShape, prm kernels.GemmParams) error {
	c := kernels.ConvPoolConfig{KH: conv.KH, KW: conv.KW, Patches: kernels.ConvPoolPatches}
	if p.opts.OptBatch >= 1 && p.opts.OptBatch <= LatencyBatch {
		c.Patches, c.Group, c.MinBlocks = 1, 2, 5
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := c.Check(prm); err != nil {
		return err
	}
	ptx, err := c.PTX()
	if err != nil {
		return err
	}
	p.useKernel(c.Name(), ptx)
	if p.absorbed == nil {
		p.absorbed = map[*ir.Node]bool{}
	}
	p.absorbed[f.pool] = true
	s.Op = s.Op + "+" + f.pool.Op // one word: bench/gpu/report.py splits --profile rows on spaces
	s.Kernel = c.Name()
	s.Args = append(s.Args, u32(int64(f.poh)), u32(int64(f.pow)))
	s.WorkPerSample, s.WorkPerBlockX = uint64(kernels.ConvPoolPatchesOf(conv.OH, conv.OW)), uint32(c.Patches)
	s.GridY, s.BlockX, s.SharedBytes = uint32(prm.NPad/c.BN()), uint32(c.Threads()), 0
	s.Note = fmt.Sprintf("%s + %s in one kernel: the conv's %dx%d output stays in shared memory, max-pooled 3x3/2 to %dx%d (%s)",
		s.Node, f.pool.Name, conv.OH, conv.OW, f.poh, f.pow, s.Note)
	s.Variant, s.VariantSource = fmt.Sprintf("convpool-p%d", c.Patches), SourceHeuristic
	return nil
}
