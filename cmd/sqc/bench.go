package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sqc-project/sqc/backend/ampere"
	"github.com/sqc-project/sqc/backend/ampere/cuda"
	"github.com/sqc-project/sqc/backend/ampere/engine"
)

func newBenchCmd() *cobra.Command {
	var (
		batch, iters, warmup int
		graph, profile       bool
		asJSON, splitK       bool
		streams              int
	)
	cmd := &cobra.Command{
		Use:   "bench ENGINE.sqe [--batch N]",
		Short: "Time an engine on the GPU",
		Long: `bench loads an engine for --batch samples, uploads random inputs once, runs
--warmup untimed iterations, then times --iters iterations with CUDA events
around each (the launches only: no copies) and prints the median, p90 and
p99 latency and the throughput at the median. By default the launches are
captured into a CUDA graph once and the graph's replays are timed, as a
deployment would run them; --graph=false launches them on the stream each
iteration (and an engine with host fallback steps always runs so). --profile
times every launch on its own instead (an event before each, so the total is
a little above the unprofiled latency) and prints, per launch, the node, the
kernel, dense or 2:4 sparse, the median time over the iterations and, for a
GEMM, its shape, dense-equivalent TOPS and share of the Tensor Core
instruction's measured ceiling, the splits S of a split-K step (the
runtime's choice at this batch; --split-k=false runs every step unsplit, to
time both ways), and for every launch its operands' bytes (each buffer,
weight and output it takes, once) over its time in GB/s and as a share of
the card's memory bandwidth: the memory roofline.`,
		Args: oneArg("engine file (.sqe)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if streams < 1 {
				return fmt.Errorf("bench: --streams %d, want at least 1", streams)
			}
			e, err := engine.ReadFile(args[0])
			if err != nil {
				return err
			}
			if iters <= 0 || warmup < 0 {
				return fmt.Errorf("bench: --iters %d, --warmup %d: want iters > 0 and warmup >= 0", iters, warmup)
			}
			rt, err := ampere.OpenWith(e, batch, ampere.OpenOptions{NoSplitK: !splitK, Streams: streams})
			if err != nil {
				if cuda.IsNoDevice(err) {
					return fmt.Errorf("bench: no CUDA GPU or driver here (%v)", err)
				}
				return fmt.Errorf("bench: %w", err)
			}
			defer rt.Close()
			g, err := ampere.Graph(e)
			if err != nil {
				return err
			}
			in := ampere.RandomInputs(g, batch)
			if err := rt.Upload(in); err != nil {
				return err
			}
			if profile {
				if graph && cmd.Flags().Changed("graph") {
					return fmt.Errorf("bench: --profile times each launch on the stream; it does not combine with --graph")
				}
				graph = false
				return benchProfile(cmd.OutOrStdout(), rt, args[0], engine.PlanFor(e, batch), batch, iters, warmup, asJSON)
			}
			run := rt.Enqueue
			if graph && rt.HostSteps() > 0 {
				if cmd.Flags().Changed("graph") {
					return fmt.Errorf("bench: %s has %d host fallback steps (see sqc inspect), which a CUDA graph cannot capture; run with --graph=false", args[0], rt.HostSteps())
				}
				// The default replays a graph where it can; this engine
				// has host steps between launches, so it runs on the stream.
				graph = false
			}
			if graph {
				if err := rt.Stream.BeginCapture(); err != nil {
					return err
				}
				if err := rt.Enqueue(); err != nil {
					return err
				}
				cg, err := rt.Stream.EndCapture()
				if err != nil {
					return err
				}
				defer cg.Destroy()
				x, err := cg.Instantiate()
				if err != nil {
					return err
				}
				defer x.Destroy()
				run = func() error { return x.Launch(rt.Stream) }
			}
			for i := 0; i < warmup; i++ {
				if err := run(); err != nil {
					return err
				}
			}
			start, err := rt.NewEvents(iters + 1)
			if err != nil {
				return err
			}
			defer ampere.DestroyEvents(start)
			if err := start[0].Record(rt.Stream); err != nil {
				return err
			}
			for i := 0; i < iters; i++ {
				if err := run(); err != nil {
					return err
				}
				if err := start[i+1].Record(rt.Stream); err != nil {
					return err
				}
			}
			if err := start[iters].Synchronize(); err != nil {
				return err
			}
			ms := make([]float64, iters)
			for i := range ms {
				t, err := cuda.ElapsedMs(start[i], start[i+1])
				if err != nil {
					return err
				}
				ms[i] = float64(t)
			}
			sort.Float64s(ms)
			pct := func(p float64) float64 { return ms[min(len(ms)-1, int(p*float64(len(ms))))] }
			mode := "stream launches"
			if graph {
				mode = "CUDA graph replay"
			}
			nstreams := rt.Streams()
			res := benchResult{Device: rt.Device, Engine: args[0], Plan: engine.PlanFor(e, batch), Batch: batch, Launches: len(rt.Steps()), Streams: nstreams, Mode: "stream", Iters: iters, Warmup: warmup,
				Latency: &benchLatency{Median: pct(0.5), P90: pct(0.9), P99: pct(0.99), Min: ms[0]}, Throughput: float64(batch) / (pct(0.5) / 1000)}
			if graph {
				res.Mode = "graph"
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "device: %s\nengine: %s%s, batch %d, %d kernels a run on %d streams, %s, %d iterations after %d warm-up\n", rt.Device, args[0], planNote(engine.PlanFor(e, batch)), batch, len(rt.Steps()), nstreams, mode, iters, warmup)
			fmt.Fprintf(w, "latency ms: median %.4f  p90 %.4f  p99 %.4f  min %.4f\n", pct(0.5), pct(0.9), pct(0.99), ms[0])
			fmt.Fprintf(w, "throughput: %.1f samples/s (at the median)\n", float64(batch)/(pct(0.5)/1000))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&batch, "batch", 1, "samples a run")
	f.IntVar(&iters, "iters", 200, "timed iterations")
	f.IntVar(&warmup, "warmup", 20, "untimed iterations first")
	f.BoolVar(&graph, "graph", true, "replay a CUDA graph of the launches (--graph=false: launch them on a stream each iteration)")
	f.BoolVar(&profile, "profile", false, "time each launch (CUDA events around every step) and print a per-layer table")
	f.BoolVar(&asJSON, "json", false, "print the timings as one JSON document")
	f.BoolVar(&splitK, "split-k", true, "let split-K steps divide K over more blocks where the grid leaves SMs idle (--split-k=false: run them unsplit)")
	f.IntVar(&streams, "streams", ampere.DefaultStreams, "run steps that depend on none of each other on up to N streams at once (--streams 1: every step in order on one)")
	return cmd
}

// benchResult is `sqc bench --json`: Latency and Throughput for a timed
// run, Profile (and TotalMs) with --profile.
type benchResult struct {
	Device string `json:"device"`
	Engine string `json:"engine"`
	// Plan is the engine's plan the batch ran ("batch ≤ 8"); empty for
	// its own steps, the plan for large batches.
	Plan     string `json:"plan,omitempty"`
	Batch    int    `json:"batch"`
	Launches int    `json:"launches"`
	// Streams is how many streams the launches ran on (1 under
	// --profile, which times them one by one).
	Streams int `json:"streams,omitempty"`
	// Mode is "stream" (launches on a stream), "graph" (a CUDA graph's
	// replays) or "profile" (events around every launch).
	Mode   string `json:"mode"`
	Iters  int    `json:"iters"`
	Warmup int    `json:"warmup"`
	// Latency is in milliseconds; Throughput in samples a second at the
	// median.
	Latency    *benchLatency `json:"latency_ms,omitempty"`
	Throughput float64       `json:"throughput,omitempty"`
	Profile    []benchLaunch `json:"profile,omitempty"`
	// TotalMs is the sum of the launches' medians (profile only).
	TotalMs float64 `json:"total_ms,omitempty"`
}

type benchLatency struct {
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Min    float64 `json:"min"`
}

type benchLaunch struct {
	Node string `json:"node"`
	Op   string `json:"op"`
	// Kind is "sparse" or "dense" (GEMMs) or "other".
	Kind   string `json:"kind"`
	Kernel string `json:"kernel"`
	// Variant is a GEMM's variant and where it came from ("cache" or
	// "heuristic"), as sqc inspect shows them.
	Variant       string `json:"variant,omitempty"`
	VariantSource string `json:"variant_source,omitempty"`
	// Splits is a launch's grid z: the runtime's number of splits of a
	// split-K step (1 unsplit).
	Splits   int     `json:"splits"`
	MedianUs float64 `json:"median_us"`
	Share    float64 `json:"share"`
	// OperandBytes is the size of the launch's operands (ampere.
	// OperandBytes) and GBps that over its median time: its place
	// against the memory roofline; DRAMShare that against the card's
	// peak (0 where the driver does not report it).
	OperandBytes int64   `json:"operand_bytes"`
	GBps         float64 `json:"gbps"`
	DRAMShare    float64 `json:"dram_share,omitempty"`
}

// benchProfile runs the engine iters times after warmup with an event
// before every launch and prints each launch's median time.
func benchProfile(w io.Writer, rt *ampere.Runtime, path, plan string, batch, iters, warmup int, asJSON bool) error {
	steps, splits, bytes := rt.Steps(), rt.Splits(), rt.OperandBytes()
	med, err := rt.ProfileSteps(iters, warmup)
	if err != nil {
		return err
	}
	var total float64
	kinds := map[string]float64{}
	for i, m := range med {
		total += m
		kinds[stepKind(steps[i])] += m
	}
	if asJSON {
		res := benchResult{Device: rt.Device, Engine: path, Plan: plan, Batch: batch, Launches: len(steps), Mode: "profile", Iters: iters, Warmup: warmup, TotalMs: total}
		for i, s := range steps {
			gbps, dram := memRoofline(bytes[i], med[i], rt.DRAMBandwidth)
			res.Profile = append(res.Profile, benchLaunch{Node: s.Node, Op: s.Op, Kind: stepKind(s), Kernel: s.Kernel, Variant: s.Variant, VariantSource: s.VariantSource, Splits: splits[i], MedianUs: med[i] * 1000, Share: med[i] / total,
				OperandBytes: bytes[i], GBps: gbps, DRAMShare: dram})
		}
		return writeJSON(w, res)
	}
	fmt.Fprintf(w, "device: %s\nengine: %s%s, batch %d, %d launches, profiled: median of %d iterations after %d warm-up, CUDA events around each launch\n", rt.Device, path, planNote(plan), batch, len(steps), iters, warmup)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	// New columns go last: bench/gpu's scripts read the others by
	// position.
	fmt.Fprintln(tw, "#\tNODE\tOP\tKIND\tKERNEL\tMEDIAN_US\tSHARE\tGEMM_MxNxK\tTOPS\tCEILING\tS\tGB/S\tDRAM\t")
	for i, s := range steps {
		// The roofline of a GEMM: dense-equivalent TOPS (2·M·N·K per
		// second) against the register-only rate of its instruction.
		shape, tops, ceil := "-", "-", "-"
		if m, n, k, ok := ampere.GemmShape(s); ok {
			m *= int64(batch)
			shape = fmt.Sprintf("%dx%dx%d", m, n, k)
			t := 2 * float64(m) * float64(n) * float64(k) / (med[i] / 1000) / 1e12
			tops = fmt.Sprintf("%.0f", t)
			if c, ok := ampere.InstructionCeiling(rt.Device, s.Sparse); ok {
				ceil = fmt.Sprintf("%.0f%%", 100*t/c)
			}
		}
		// The memory roofline: the operands' bytes over the time,
		// against the card's DRAM bandwidth.
		gbps, dram := memRoofline(bytes[i], med[i], rt.DRAMBandwidth)
		dramCol := "-"
		if dram > 0 {
			dramCol = fmt.Sprintf("%.0f%%", 100*dram)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.2f\t%.1f%%\t%s\t%s\t%s\t%d\t%.0f\t%s\t\n", i, s.Node, s.Op, stepKind(s), s.Kernel, med[i]*1000, 100*med[i]/total, shape, tops, ceil, splits[i], gbps, dramCol)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "total: %.4f ms (sum of launch medians)", total)
	for _, k := range []string{"sparse", "dense", "other"} {
		if kinds[k] > 0 {
			label := k + " GEMM"
			if k == "other" {
				label = "other kernels"
			}
			fmt.Fprintf(w, "; %s %.4f ms", label, kinds[k])
		}
	}
	fmt.Fprintln(w)
	return nil
}

// memRoofline places a launch that moves bytes in ms milliseconds
// against the memory roofline: its GB/s, and that as a share of peak
// (bytes a second; 0 unknown, and then share 0).
func memRoofline(bytes int64, ms, peak float64) (gbps, share float64) {
	if ms <= 0 {
		return 0, 0
	}
	perSec := float64(bytes) / (ms / 1000)
	if peak > 0 {
		share = perSec / peak
	}
	return perSec / 1e9, share
}

// stepKind says which kind of kernel a launch runs: a 2:4 sparse GEMM, a
// dense GEMM, or another (op) kernel.
func stepKind(s *engine.Step) string {
	switch {
	case s.Sparse:
		return "sparse"
	case len(s.Kernel) > 8 && s.Kernel[:8] == "sqc_gemm":
		return "dense"
	}
	return "other"
}

// planNote is the text bench prints after the engine's path for the plan
// a batch ran: nothing for the engine's own steps.
func planNote(plan string) string {
	if plan == "" {
		return ""
	}
	return " (its plan for " + plan + ")"
}
