package onnx

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// whyNotModel explains bytes that do not decode as a ModelProto, telling
// the common cases apart: a text file (a .sqir, a recipe, a JSON or text
// dump named .onnx) and a file cut short (an interrupted download or
// copy), whose last top-level field announces more bytes than remain.
// It returns "" when neither explains them.
func whyNotModel(data []byte) string {
	if looksLikeText(data) {
		return "this is a text file, and ONNX models are binary protobuf (is it a .sqir file, a recipe or a text dump of a model?)"
	}
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		at := len(data) - len(b)
		if typ == protowire.BytesType {
			length, m := protowire.ConsumeVarint(b[n:])
			if m > 0 && length > uint64(len(b)-n-m) {
				return fmt.Sprintf("the file is truncated: field %d at byte %d holds %d bytes, but only %d follow (%d bytes in all; was a download or copy interrupted?)",
					num, at, length, len(b)-n-m, len(data))
			}
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			if len(b) < n+16 && at > 0 {
				return fmt.Sprintf("the file is truncated: it ends inside field %d at byte %d (%d bytes in all; was a download or copy interrupted?)", num, at, len(data))
			}
			return ""
		}
		b = b[n+m:]
	}
	return ""
}

// looksLikeText reports whether the start of data is printable UTF-8
// text, as no serialized ModelProto is (its first byte is a field tag,
// and its weights are raw floats).
func looksLikeText(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	head := data[:min(len(data), 512)]
	for len(head) > 0 {
		r, size := utf8.DecodeRune(head)
		if r == utf8.RuneError && size <= 1 {
			// A multi-byte rune cut by the 512-byte window is still text.
			return len(head) < utf8.UTFMax && len(data) > 512
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
		head = head[size:]
	}
	return true
}
