// run.js runs ONNX models with onnxruntime for the export tests of encc
// (export/onnx/onnx_test.go).
//
//   node run.js REQUEST.json RESULT.json
//
// REQUEST is a list of {model: PATH, runs: [FEEDS, ...]}, FEEDS mapping
// each input name to {type: "float32"|"int32"|"int64"|"bool", dims, data}.
// RESULT is, per model, {runs: [OUTPUTS, ...]} or {error: MESSAGE},
// OUTPUTS mapping each output name to {type, dims, data}.
"use strict";
const fs = require("fs");
const ort = require("onnxruntime-node");

const arrays = {
  float32: Float32Array,
  int32: Int32Array,
  int64: (xs) => BigInt64Array.from(xs, BigInt),
  bool: Uint8Array,
};

async function main() {
  const [reqPath, outPath] = process.argv.slice(2);
  const req = JSON.parse(fs.readFileSync(reqPath, "utf8"));
  const result = [];
  for (const m of req) {
    try {
      result.push({ runs: await runModel(m) });
    } catch (err) {
      result.push({ error: String(err && err.message ? err.message : err) });
    }
  }
  fs.writeFileSync(outPath, JSON.stringify(result));
}

async function runModel(m) {
  const sess = await ort.InferenceSession.create(m.model, { logSeverityLevel: 3 });
  const runs = [];
  for (const feeds of m.runs) {
    const inputs = {};
    for (const [name, t] of Object.entries(feeds)) {
      const make = arrays[t.type];
      const data = t.type === "int64" ? make(t.data) : make.from(t.data);
      inputs[name] = new ort.Tensor(t.type, data, t.dims);
    }
    const out = await sess.run(inputs);
    const o = {};
    for (const name of sess.outputNames) {
      const t = out[name];
      o[name] = { type: t.type, dims: t.dims, data: Array.from(t.data, Number) };
    }
    runs.push(o);
  }
  return runs;
}

main().catch((err) => {
  console.error(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
