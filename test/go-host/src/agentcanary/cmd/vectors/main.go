// Command vectors produces and checks wire bytes with Go's own encoding/gob and
// hashicorp/yamux, for the TypeScript plugin's unit tests:
//
//	vectors gob                 gob streams with the values they carry (test/fixtures/plugin/gob-vectors.json)
//	vectors yamux-frames        the frames a yamux client writes for a scripted session (test/fixtures/plugin/yamux-frames.json)
//	vectors decode              reads {"hex": ...} of a TypeScript-encoded stream on stdin, decodes
//	                            it with encoding/gob into Argo's reply types, prints what Go got
//	vectors yamux-client ADDR   drives a TypeScript yamux server at ADDR with the real yamux client
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: vectors gob|yamux-frames|decode|yamux-client ADDR")
	}
	var out interface{}
	var err error
	switch os.Args[1] {
	case "gob":
		out, err = gobVectors()
	case "yamux-frames":
		out, err = yamuxFrames()
	case "decode":
		out, err = decodeReplies(os.Stdin)
	case "yamux-client":
		if len(os.Args) < 3 {
			fail("yamux-client needs an address")
		}
		out, err = yamuxClient(os.Args[2])
	default:
		fail("unknown mode " + os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "vectors:", msg)
	os.Exit(1)
}
