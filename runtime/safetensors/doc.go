// Package safetensors reads and writes the safetensors checkpoint format,
// the format encc uses for weights, optimizer state and checkpoints, and
// the one PyTorch and Hugging Face use to exchange weights.
//
// # Format
//
// A file is
//
//	8 bytes   N, the header length, unsigned little-endian
//	N bytes   the header: a UTF-8 JSON object, optionally padded at the
//	          end with spaces (0x20)
//	rest      the byte buffer: every tensor's raw little-endian data
//
// The header maps each tensor name to
//
//	{"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}
//
// where the offsets are relative to the start of the byte buffer, and may
// hold one extra key, "__metadata__", a flat object of string to string.
//
// # Validation
//
// [Parse] and [Read] are strict: a file shorter than its header length, a
// header that is not a JSON object, a duplicate or empty tensor name, an
// unknown dtype, a negative dimension, offsets whose length differs from
// shape × dtype size, tensors that overlap or leave a hole, a buffer with
// bytes no tensor owns, or metadata values that are not strings are all
// errors. Every such error wraps [ErrFormat]; [Read] prefixes it with the
// file's path.
//
// # Writing
//
// [Write] is atomic: it writes a temporary file in the destination's
// directory, syncs it, renames it over the destination and syncs the
// directory, so a reader sees the old file or the new one, never a part.
// Output is deterministic: "__metadata__" comes first, then the tensors
// sorted by name, laid out in the buffer in that order, and the header is
// padded with spaces so the buffer starts at a multiple of 8 bytes.
// The data is streamed from each tensor's Data; [Float32View] and
// [Int64View] make tensors over the caller's slices, so a checkpoint is
// written without a copy of the weights.
//
// # Dtypes
//
// Every dtype of the format is recognized (F64, F32, F16, BF16, I64, I32,
// I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2). [Tensor.Float32]
// converts F32, F16, BF16 and F64 (rounding to nearest) to float32;
// [Tensor.Int32] converts I32, I64 (range-checked), I16, I8, U16, U8 and
// BOOL to int32.
package safetensors
