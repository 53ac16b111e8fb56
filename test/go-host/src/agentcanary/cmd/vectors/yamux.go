package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/ioutil"
	"math/rand"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

type frameSpec struct {
	Type    int    `json:"type"`
	Flags   int    `json:"flags"`
	Stream  uint32 `json:"stream"`
	Length  uint32 `json:"length"`
	Payload string `json:"payload,omitempty"` // hex, for short data frames
}

type yamuxVector struct {
	Description string      `json:"description"`
	Hex         string      `json:"hex"`
	Frames      []frameSpec `json:"frames"`
}

func quietConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.ConnectionWriteTimeout = 300 * time.Millisecond
	cfg.LogOutput = ioutil.Discard
	return cfg
}

// yamuxFrames records what the real yamux client writes when it opens streams, sends data,
// half-closes, pings and goes away, against a peer that never answers.
func yamuxFrames() (interface{}, error) {
	client, peer := net.Pipe()
	var captured bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&captured, peer)
		close(done)
	}()
	sess, err := yamux.Client(client, quietConfig())
	if err != nil {
		return nil, err
	}
	s1, err := sess.OpenStream()
	if err != nil {
		return nil, err
	}
	if _, err := s1.Write([]byte("hello")); err != nil {
		return nil, err
	}
	s3, err := sess.OpenStream()
	if err != nil {
		return nil, err
	}
	big := bytes.Repeat([]byte{0x5a}, 3000)
	if _, err := s3.Write(big); err != nil {
		return nil, err
	}
	if err := s1.Close(); err != nil {
		return nil, err
	}
	sess.Ping() // times out: nobody answers; the SYN ping is on the wire
	if err := sess.GoAway(); err != nil {
		return nil, err
	}
	sess.Close()
	<-done
	return yamuxVector{
		Description: "hashicorp/yamux client: open 1 (SYN), 5 bytes, open 3, 3000 bytes, FIN 1, ping, go-away",
		Hex:         hex.EncodeToString(captured.Bytes()),
		Frames: []frameSpec{
			{Type: 1, Flags: 1, Stream: 1, Length: 0},
			{Type: 0, Flags: 0, Stream: 1, Length: 5, Payload: hex.EncodeToString([]byte("hello"))},
			{Type: 1, Flags: 1, Stream: 3, Length: 0},
			{Type: 0, Flags: 0, Stream: 3, Length: 3000},
			{Type: 1, Flags: 4, Stream: 1, Length: 0},
			{Type: 2, Flags: 1, Stream: 0, Length: 0},
			{Type: 3, Flags: 0, Stream: 0, Length: 0},
		},
	}, nil
}

type clientReport struct {
	Echoed         []int  `json:"echoed"`
	EchoSha256     string `json:"echoSha256"`
	PingOK         bool   `json:"pingOk"`
	ResetSeen      bool   `json:"resetSeen"`
	SessionAlive   bool   `json:"sessionAlive"`
	KeepaliveRound int    `json:"keepaliveRounds"`
}

// yamuxClient drives a TypeScript yamux echo server (test/plugin/yamux-interop.test.ts):
// three streams echo 1 MiB each at once (four windows each way, so window updates must flow
// both ways), keepalive pings run every 50 ms, and a stream whose first byte is 'R' must be
// reset by the server. The payload never starts with 'R'.
func yamuxClient(addr string) (interface{}, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := yamux.DefaultConfig()
	cfg.KeepAliveInterval = 50 * time.Millisecond
	cfg.ConnectionWriteTimeout = 5 * time.Second
	cfg.LogOutput = ioutil.Discard
	sess, err := yamux.Client(conn, cfg)
	if err != nil {
		return nil, err
	}
	report := clientReport{}
	const size = 1 << 20
	rng := rand.New(rand.NewSource(5))
	payload := make([]byte, size)
	rng.Read(payload)
	payload[0] = 0
	want := sha256.Sum256(payload)
	report.EchoSha256 = hex.EncodeToString(want[:])

	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := []error{}
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sess.OpenStream()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			go s.Write(payload)
			// Read exactly the echo before closing: this yamux version (Debian's 2019 snapshot)
			// makes Read return EOF as soon as the local side has closed and the buffer is
			// momentarily empty, so half-close-then-read-to-EOF would cut the echo short.
			got := make([]byte, size)
			_, err = io.ReadFull(s, got)
			s.Close()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			sum := sha256.Sum256(got)
			if hex.EncodeToString(sum[:]) != report.EchoSha256 {
				errs = append(errs, fmt.Errorf("stream %d: echo differs (%d bytes back)", s.StreamID(), len(got)))
			}
			report.Echoed = append(report.Echoed, len(got))
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}

	if _, err := sess.Ping(); err == nil {
		report.PingOK = true
	}

	r, err := sess.OpenStream()
	if err != nil {
		return nil, err
	}
	r.Write([]byte("R please reset"))
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = ioutil.ReadAll(r)
	report.ResetSeen = errors.Is(err, yamux.ErrConnectionReset) || (err != nil && err.Error() == yamux.ErrConnectionReset.Error())

	time.Sleep(300 * time.Millisecond) // several keepalive rounds; a missed ping reply kills the session
	report.KeepaliveRound = 300 / 50
	report.SessionAlive = !sess.IsClosed()
	sess.Close()
	return report, nil
}
