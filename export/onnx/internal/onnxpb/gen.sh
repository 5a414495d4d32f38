#!/bin/sh
# gen.sh regenerates onnx.pb.go from onnx.proto (run by go generate).
set -eu
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
protoc --plugin=protoc-gen-go="$bin/protoc-gen-go" \
	--go_out=. --go_opt=paths=source_relative \
	--go_opt=Monnx.proto=github.com/encc-lang/encc/export/onnx/internal/onnxpb \
	onnx.proto
