// ort_run.js runs ONNX models with ONNX Runtime's CPU build (the npm
// package onnxruntime-node), for the exporter's differential test.
//
//   SQC_ORT_NODE_MODULES=/path/to/node_modules node ort_run.js MANIFEST.json
//
// The manifest lists the runs:
//
//   {"runs": [{"model": "m.onnx",
//              "inputs":  [{"name": "x", "dims": [1, 3, 8, 8], "file": "x.bin"}],
//              "outputs": [{"name": "y", "file": "y.bin"}],
//              "optimization": "all"}]}
//
// optimization is ONNX Runtime's graph optimization level ("disabled",
// "basic", "extended" or "all"; "basic" when absent).
// Input files hold raw little-endian float32 data; each output is written the
// same way to its file (outputs of other element types as their raw
// little-endian elements: int64 as 8 bytes, bool as 1). One JSON line per run
// goes to stdout with the element type and dims of each output, so the
// caller can decode it and check shapes: {"model": ..., "outputs": [{"name":
// "y", "type": "float32", "dims": [1, 10]}]}. Any failure exits non-zero with
// the runtime's message on stderr.
'use strict';

const fs = require('fs');
const path = require('path');

const modules = process.env.SQC_ORT_NODE_MODULES;
if (!modules) {
  console.error('ort_run.js: set SQC_ORT_NODE_MODULES to the node_modules directory holding onnxruntime-node');
  process.exit(2);
}
const ort = require(path.join(path.resolve(modules), 'onnxruntime-node'));

// readFloat32 reads a raw little-endian float32 file. Buffer's readFloatLE
// is used rather than a Float32Array view because the file's bytes need not
// be 4-byte aligned in memory and the host need not be little-endian.
function readFloat32(file) {
  const buf = fs.readFileSync(file);
  if (buf.length % 4 !== 0) {
    throw new Error(`${file}: ${buf.length} bytes, want a multiple of 4`);
  }
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

// writeRaw writes a tensor's elements little-endian, element by element,
// so the file's byte order does not depend on the host's.
function writeRaw(file, type, data) {
  const put = {
    float32: [4, (b, v, o) => b.writeFloatLE(v, o)],
    float64: [8, (b, v, o) => b.writeDoubleLE(v, o)],
    int8: [1, (b, v, o) => b.writeInt8(v, o)],
    uint8: [1, (b, v, o) => b.writeUInt8(v, o)],
    int16: [2, (b, v, o) => b.writeInt16LE(v, o)],
    uint16: [2, (b, v, o) => b.writeUInt16LE(v, o)],
    int32: [4, (b, v, o) => b.writeInt32LE(v, o)],
    uint32: [4, (b, v, o) => b.writeUInt32LE(v, o)],
    int64: [8, (b, v, o) => b.writeBigInt64LE(v, o)],
    uint64: [8, (b, v, o) => b.writeBigUInt64LE(v, o)],
    bool: [1, (b, v, o) => b.writeUInt8(v ? 1 : 0, o)],
  }[type];
  if (!put) throw new Error(`${file}: no raw form for element type ${type}`);
  const [size, write] = put;
  const buf = Buffer.alloc(size * data.length);
  for (let i = 0; i < data.length; i++) write(buf, data[i], size * i);
  fs.writeFileSync(file, buf);
}

async function run(r) {
  const session = await ort.InferenceSession.create(r.model, {
    executionProviders: ['cpu'],
    // Basic optimizations unless the run asks for another level: the tests
    // compare the model as written, not ONNX Runtime's own fusions of it,
    // except where a test checks that those fusions compute the same.
    graphOptimizationLevel: r.optimization || 'basic',
  });
  const feeds = {};
  for (const inp of r.inputs) {
    const data = readFloat32(inp.file);
    const n = inp.dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) {
      throw new Error(`${r.model}: input ${inp.name}: ${data.length} values for dims [${inp.dims}]`);
    }
    feeds[inp.name] = new ort.Tensor('float32', data, inp.dims);
  }
  const results = await session.run(feeds);
  const report = { model: r.model, outputs: [] };
  for (const out of r.outputs) {
    const t = results[out.name];
    if (!t) throw new Error(`${r.model}: no output named ${out.name}`);
    writeRaw(out.file, t.type, t.data);
    report.outputs.push({ name: out.name, type: t.type, dims: Array.from(t.dims) });
  }
  if (session.release) await session.release();
  return report;
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node ort_run.js MANIFEST.json');
    process.exit(2);
  }
  const manifest = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (const r of manifest.runs) {
    console.log(JSON.stringify(await run(r)));
  }
}

main().catch((e) => {
  console.error(`ort_run.js: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
