package gputest

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqc-project/sqc/backend/ampere/cuda"
)

// axpyPTX is a minimal kernel for the driver tests: y[i] = a·i + b for
// i < n (u32), one thread an element.
const axpyPTX = `
.version 8.5
.target sm_80
.address_size 64

.visible .entry sqc_test_axpy(
	.param .u64 p_y,
	.param .u32 p_n,
	.param .u32 p_a,
	.param .u32 p_b
)
{
	.reg .pred %p;
	.reg .b32 %i;
	.reg .b32 %n;
	.reg .b32 %a;
	.reg .b32 %b;
	.reg .b32 %v;
	.reg .b32 %t;
	.reg .b64 %y;
	.reg .b64 %off;
	ld.param.u64 %y, [p_y];
	cvta.to.global.u64 %y, %y;
	ld.param.u32 %n, [p_n];
	ld.param.u32 %a, [p_a];
	ld.param.u32 %b, [p_b];
	mov.u32 %i, %ctaid.x;
	mov.u32 %t, %ntid.x;
	mul.lo.u32 %i, %i, %t;
	mov.u32 %t, %tid.x;
	add.u32 %i, %i, %t;
	setp.ge.u32 %p, %i, %n;
	@%p bra.uni $done;
	mad.lo.u32 %v, %a, %i, %b;
	mul.wide.u32 %off, %i, 4;
	add.u64 %y, %y, %off;
	st.global.u32 [%y], %v;
$done:
	ret;
}
`

// TestDeviceQuery: the device answers the queries the backend relies on.
func TestDeviceQuery(t *testing.T) {
	g := needGPU(t)
	name, err := g.dev.Name()
	if err != nil || name == "" {
		t.Fatalf("Name() = %q, %v", name, err)
	}
	maj, min, err := g.dev.ComputeCapability()
	if err != nil {
		t.Fatal(err)
	}
	if maj < 8 {
		t.Fatalf("compute capability %d.%d: the kernels need sm_80 or later", maj, min)
	}
	sms, err := g.dev.MultiprocessorCount()
	if err != nil || sms <= 0 {
		t.Fatalf("MultiprocessorCount() = %d, %v", sms, err)
	}
	mem, err := g.dev.TotalMem()
	if err != nil || mem < 1<<30 {
		t.Fatalf("TotalMem() = %d, %v", mem, err)
	}
	v, err := cuda.DriverVersion()
	if err != nil || v < 11040 {
		t.Fatalf("DriverVersion() = %d, %v; want CUDA 11.4 or later", v, err)
	}
	free, total, err := g.ctx.MemInfo()
	if err != nil || free == 0 || free > total {
		t.Fatalf("MemInfo() = %d, %d, %v", free, total, err)
	}
	smem, _ := g.dev.Attribute(cuda.AttrMaxSharedMemoryPerBlockOptin)
	l2, _ := g.dev.Attribute(cuda.AttrL2CacheSize)
	t.Logf("%s; driver CUDA %d.%d; %d KiB shared memory a block (opt-in); %d MiB L2", g.desc, v/1000, v%1000/10, smem>>10, l2>>20)
}

// TestMemory: copies in both directions, memsets and device-to-device
// copies move the right bytes; out-of-range copies are refused before the
// driver sees them.
func TestMemory(t *testing.T) {
	g := needGPU(t)
	r := rand.New(rand.NewPCG(1, 1))
	src := make([]byte, 1<<20+3)
	for i := range src {
		src[i] = byte(r.IntN(256))
	}
	a := buf(t, g, src)
	got := make([]byte, len(src))
	if err := cuda.Download(a, 0, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Fatal("upload then download changed the data")
	}
	b := alloc(t, g, len(src))
	if err := g.ctx.CopyDtoD(b.Ptr, a.Ptr, len(src)); err != nil {
		t.Fatal(err)
	}
	if err := g.ctx.MemsetD8(b.Ptr.Offset(10), 0x3C, 5); err != nil {
		t.Fatal(err)
	}
	if err := cuda.Download(b, 0, got); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), src...)
	for i := 10; i < 15; i++ {
		want[i] = 0x3C
	}
	if !bytes.Equal(got, want) {
		t.Fatal("device-to-device copy or memset moved the wrong bytes")
	}
	words := alloc(t, g, 4*100)
	if err := g.ctx.MemsetD32(words.Ptr, 0xDEADBEEF, 100); err != nil {
		t.Fatal(err)
	}
	w := make([]uint32, 100)
	if err := cuda.Download(words, 0, w); err != nil {
		t.Fatal(err)
	}
	for i, v := range w {
		if v != 0xDEADBEEF {
			t.Fatalf("word %d = %#x after MemsetD32", i, v)
		}
	}
	// Typed copies at an offset.
	f := []float32{1.5, -2, 3.25}
	if err := cuda.Upload(words, 8, f); err != nil {
		t.Fatal(err)
	}
	back := make([]float32, 3)
	if err := cuda.Download(words, 8, back); err != nil || back[0] != 1.5 || back[1] != -2 || back[2] != 3.25 {
		t.Fatalf("typed round trip: %v, %v", back, err)
	}
	if err := cuda.Upload(words, 399, []uint16{1}); err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Errorf("out-of-range upload: %v", err)
	}
	if _, err := g.ctx.Alloc(0); err == nil {
		t.Error("zero-byte allocation accepted")
	}
	if err := b.Free(); err != nil {
		t.Fatal(err)
	}
	if err := cuda.Download(b, 0, got); err == nil {
		t.Error("download from a freed buffer accepted")
	}
}

// TestJITErrorLog: PTX that does not compile gives an error carrying the
// JIT's log, which names the line.
func TestJITErrorLog(t *testing.T) {
	g := needGPU(t)
	bad := strings.Replace(axpyPTX, "mad.lo.u32 %v, %a, %i, %b;", "mad.lo.u32 %v, %a, %undeclared, %b;", 1)
	_, err := g.ctx.LoadPTX(bad)
	if err == nil {
		t.Fatal("PTX with an undeclared register loaded")
	}
	msg := err.Error()
	t.Logf("JIT error as reported:\n%s", msg)
	if !strings.Contains(msg, "cuModuleLoadDataEx") || !strings.Contains(msg, "undeclared") || !strings.Contains(msg, "line") {
		t.Errorf("error %q, want the entry point, the JIT log's line number and the offending name", msg)
	}
	m, err := g.ctx.LoadPTX(axpyPTX)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unload()
	t.Logf("JIT info log of a good module (%.1f ms): %s", m.WallTimeMs, m.InfoLog)
	if _, err := m.Function("no_such_kernel"); err == nil || !strings.Contains(err.Error(), "no_such_kernel") {
		t.Errorf("missing kernel: %v", err)
	}
}

// TestLaunchEventsGraph: a kernel launch writes what it should, events
// time a stretch of launches, and a captured graph runs nothing while it
// is captured and everything when it is replayed.
func TestLaunchEventsGraph(t *testing.T) {
	g := needGPU(t)
	f := g.function(t, "axpy", axpyPTX, "sqc_test_axpy")
	const n = 10000
	check := func(b *cuda.Buffer, a, c uint32) {
		t.Helper()
		got := make([]uint32, n)
		if err := cuda.Download(b, 0, got); err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != a*uint32(i)+c {
				t.Fatalf("y[%d] = %d, want %d", i, v, a*uint32(i)+c)
			}
		}
	}
	y := alloc(t, g, 4*n)
	if err := g.stream.Launch(f, cuda.D1((n+255)/256), cuda.D1(256), 0, y.Ptr, uint32(n), uint32(3), uint32(7)); err != nil {
		t.Fatal(err)
	}
	if err := g.stream.Synchronize(); err != nil {
		t.Fatal(err)
	}
	check(y, 3, 7)

	start, _ := g.ctx.NewEvent()
	end, _ := g.ctx.NewEvent()
	defer start.Destroy()
	defer end.Destroy()
	if err := start.Record(g.stream); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := g.stream.Launch(f, cuda.D1((n+255)/256), cuda.D1(256), 0, y, uint32(n), uint32(i), uint32(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := end.Record(g.stream); err != nil {
		t.Fatal(err)
	}
	if err := end.Synchronize(); err != nil {
		t.Fatal(err)
	}
	ms, err := cuda.ElapsedMs(start, end)
	if err != nil || ms <= 0 {
		t.Fatalf("ElapsedMs = %v, %v", ms, err)
	}
	t.Logf("100 small launches: %.3f ms of device time", ms)
	check(y, 99, 1)

	outs := []*cuda.Buffer{alloc(t, g, 4*n), alloc(t, g, 4*n), alloc(t, g, 4*n)}
	if err := g.stream.BeginCapture(); err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		if err := g.stream.Launch(f, cuda.D1((n+255)/256), cuda.D1(256), 0, o.Ptr, uint32(n), uint32(i+2), uint32(10*i)); err != nil {
			t.Fatal(err)
		}
	}
	graph, err := g.stream.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	defer graph.Destroy()
	poisoned := make([]uint32, 4)
	if err := cuda.Download(outs[0], 0, poisoned); err != nil {
		t.Fatal(err)
	}
	if poisoned[1] != 0xA5A5A5A5 {
		t.Fatalf("a captured launch ran during capture: y[1] = %#x", poisoned[1])
	}
	exec, err := graph.Instantiate()
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Destroy()
	for rep := 0; rep < 2; rep++ {
		for _, o := range outs {
			if err := o.Fill(0xA5); err != nil {
				t.Fatal(err)
			}
		}
		if err := exec.Launch(g.stream); err != nil {
			t.Fatal(err)
		}
		if err := g.stream.Synchronize(); err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			check(o, uint32(i+2), uint32(10*i))
		}
	}
}
