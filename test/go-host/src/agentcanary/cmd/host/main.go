// Command host is a real go-plugin host (hashicorp/go-plugin, netrpc) for the TypeScript
// metric-provider plugin, doing what Argo Rollouts' controller does
// (metricproviders/plugin/client/client.go): start the plugin with Argo's HandshakeConfig,
// Ping, Dispense "RpcMetricProviderPlugin", and call its methods with Argo's argument types.
//
//	host check PLUGIN GATE_URL          exercise every method and path; print a JSON report
//	host bench PLUGIN GATE_URL N        time Run and Control.Ping round trips, interleaved
//
// The report is checked by test/plugin/go-host.test.ts against the stub gate it runs. This
// program itself fails (exit 1) when the protocol breaks: an RPC transport error where none
// is expected, a reply that does not match its request, or a plugin that outlives Kill.
package main

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"

	"agentcanary/argo"
)

type measurementReport struct {
	Phase      string            `json:"phase"`
	Message    string            `json:"message"`
	Value      string            `json:"value"`
	Metadata   map[string]string `json:"metadata"`
	StartedAt  string            `json:"startedAt,omitempty"`
	FinishedAt string            `json:"finishedAt,omitempty"`
	ResumeAt   string            `json:"resumeAt,omitempty"`
}

type report struct {
	Ping           bool                         `json:"ping"`
	Init           string                       `json:"init"`
	Type           string                       `json:"type"`
	Metadata       map[string]string            `json:"metadata"`
	Runs           map[string]measurementReport `json:"runs"`
	Concurrent     map[string]int               `json:"concurrent"`
	Large          map[string]interface{}       `json:"large"`
	Resume         measurementReport            `json:"resume"`
	Terminate      measurementReport            `json:"terminate"`
	GC             string                       `json:"gc"`
	BadConfig      measurementReport            `json:"badConfig"`
	NoConfig       measurementReport            `json:"noConfig"`
	UnknownMethod  string                       `json:"unknownMethod"`
	WrongArgs      string                       `json:"wrongArgs"`
	PingAfterError bool                         `json:"pingAfterError"`
	SecondDispense string                       `json:"secondDispense"`
	Exited         bool                         `json:"exited"`
	Graceful       bool                         `json:"graceful"`
	PluginLogInfo  bool                         `json:"pluginLogAtInfo"`
	HostLog        string                       `json:"hostLog"`
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: host check|bench PLUGIN GATE_URL [N]")
	}
	switch os.Args[1] {
	case "check":
		check(os.Args[2], os.Args[3])
	case "bench":
		n := 200
		if len(os.Args) > 4 {
			n, _ = strconv.Atoi(os.Args[4])
		}
		bench(os.Args[2], os.Args[3], n)
	default:
		fail("unknown mode " + os.Args[1])
	}
}

// hostLog collects go-plugin's log (the plugin's stderr lines included); printed on failure.
var hostLog = &syncBuffer{}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "host:", msg)
	fmt.Fprintln(os.Stderr, "--- host log ---\n"+hostLog.String())
	os.Exit(1)
}

// syncBuffer collects the host's hclog output (go-plugin logs from several goroutines).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(pluginPath string, logOut *syncBuffer) (*plugin.Client, plugin.ClientProtocol, *argo.MetricsPluginRPC) {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: argo.HandshakeConfig,
		Plugins:         map[string]plugin.Plugin{argo.PluginName: &argo.RpcMetricsPlugin{}},
		Cmd:             exec.Command(pluginPath, "--log-level", "debug"),
		Logger:          hclog.New(&hclog.LoggerOptions{Name: "host", Output: logOut, Level: hclog.Trace}),
		StartTimeout:    30 * time.Second,
	})
	rpcClient, err := client.Client()
	if err != nil {
		fail("start: " + err.Error() + "\n" + logOut.String())
	}
	raw, err := rpcClient.Dispense(argo.PluginName)
	if err != nil {
		fail("dispense: " + err.Error())
	}
	return client, rpcClient, raw.(*argo.MetricsPluginRPC)
}

func config(gateURL string, extra map[string]interface{}) map[string]interface{} {
	c := map[string]interface{}{"address": gateURL, "stage": "canary-1", "apiKey": "test-key-not-logged", "timeoutSeconds": "5"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func sample(gateURL, canaryHash string, extra map[string]interface{}, history int) (*argo.AnalysisRun, argo.Metric) {
	return argo.SampleRun(argo.SampleOptions{
		Rollout: "support-agent", Namespace: "agents", Revision: "7", CanaryHash: canaryHash, StableHash: "stable",
		Config: config(gateURL, extra), History: history,
	})
}

func timeText(t *argo.Time) string {
	if t == nil {
		return ""
	}
	return t.Time.UTC().Format(time.RFC3339Nano)
}

func toReport(m argo.Measurement) measurementReport {
	return measurementReport{Phase: string(m.Phase), Message: m.Message, Value: m.Value, Metadata: m.Metadata,
		StartedAt: timeText(m.StartedAt), FinishedAt: timeText(m.FinishedAt), ResumeAt: timeText(m.ResumeAt)}
}

func must(what string, err error) {
	if err != nil {
		fail(what + ": " + err.Error())
	}
}

// Scenarios the stub gate answers, by canary pod-template hash (canary = support-agent-<hash>).
var scenarios = []string{"healthy", "too-new", "deny-spike", "broken", "slow", "garbage", "locked"}

func check(pluginPath, gateURL string) {
	logOut := hostLog
	client, rpcClient, p := start(pluginPath, logOut)
	r := report{Runs: map[string]measurementReport{}}

	r.Ping = rpcClient.Ping() == nil
	init, err := p.InitPlugin()
	must("InitPlugin", err)
	r.Init = init.ErrorString
	r.Type, err = p.Type()
	must("Type", err)
	_, metric := sample(gateURL, "healthy", nil, 0)
	r.Metadata, err = p.GetMetadata(metric)
	must("GetMetadata", err)

	for _, s := range scenarios {
		var extra map[string]interface{}
		if s == "slow" {
			extra = map[string]interface{}{"timeoutSeconds": "1"} // the stub answers after 2.5 s
		}
		run, metric := sample(gateURL, s, extra, 0)
		m, err := p.Run(run, metric)
		must("Run "+s, err)
		r.Runs[s] = toReport(m)
	}

	// Concurrent calls on the one client, as Argo's metric goroutines make them: replies must
	// come back to the call that asked (net/rpc matches them by Seq).
	concurrent := []string{"healthy", "too-new", "deny-spike", "broken", "garbage"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	mismatches, calls := 0, 0
	want := map[string]string{"healthy": "Successful", "too-new": "Inconclusive", "deny-spike": "Failed", "broken": "Error", "garbage": "Error"}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 6; i++ {
				s := concurrent[(g+i)%len(concurrent)]
				run, metric := sample(gateURL, s, nil, 0)
				m, err := p.Run(run, metric)
				mu.Lock()
				calls++
				if err != nil || string(m.Phase) != want[s] || m.Metadata["canary"] != "support-agent-"+s {
					mismatches++
				}
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	r.Concurrent = map[string]int{"calls": calls, "mismatches": mismatches}
	if mismatches > 0 {
		fail(fmt.Sprintf("%d of %d concurrent replies did not match their requests", mismatches, calls))
	}

	// A message larger than one yamux window (256 KiB): a long-running run's status.
	bigRun, bigMetric := sample(gateURL, "healthy", nil, 200)
	var args interface{} = argo.RunArgs{AnalysisRun: bigRun, Metric: bigMetric}
	var sized bytes.Buffer
	must("size", gob.NewEncoder(&sized).Encode(&args))
	m, err := p.Run(bigRun, bigMetric)
	must("Run large", err)
	r.Large = map[string]interface{}{"bytes": sized.Len(), "phase": string(m.Phase)}

	prior := argo.Measurement{
		Phase: "Successful", Message: "earlier", Value: "96", Metadata: map[string]string{"verdict": "pass"},
		StartedAt: &argo.Time{argo.StartedAt}, FinishedAt: &argo.Time{argo.StartedAt.Add(1500 * time.Millisecond)},
	}
	run, metric := sample(gateURL, "healthy", nil, 0)
	resumed, err := p.Resume(run, metric, prior)
	must("Resume", err)
	r.Resume = toReport(resumed)
	terminated, err := p.Terminate(run, metric, prior)
	must("Terminate", err)
	r.Terminate = toReport(terminated)
	gcErr, err := p.GarbageCollect(run, metric, 5)
	must("GarbageCollect", err)
	r.GC = gcErr.ErrorString

	badRun, badMetric := sample(gateURL, "healthy", map[string]interface{}{"stagee": "canary-1"}, 0)
	m, err = p.Run(badRun, badMetric)
	must("Run bad config", err)
	r.BadConfig = toReport(m)
	noMetric := badMetric
	noMetric.Provider = argo.MetricProvider{Plugin: map[string]json.RawMessage{"someone/else": json.RawMessage(`{}`)}}
	m, err = p.Run(badRun, noMetric)
	must("Run without config", err)
	r.NoConfig = toReport(m)

	var ignored string
	if err := p.Client.Call("Plugin.Nope", new(interface{}), &ignored); err != nil {
		r.UnknownMethod = err.Error()
	}
	var wrong interface{} = argo.GetMetadataArgs{Metric: metric}
	var meas argo.Measurement
	if err := p.Client.Call("Plugin.Run", &wrong, &meas); err != nil {
		r.WrongArgs = err.Error()
	}
	r.PingAfterError = rpcClient.Ping() == nil
	if _, err := p.Type(); err != nil {
		fail("the plugin stream broke after an error reply: " + err.Error())
	}

	raw, err := rpcClient.Dispense(argo.PluginName)
	must("second Dispense", err)
	r.SecondDispense, err = raw.(*argo.MetricsPluginRPC).Type()
	must("Type on second dispense", err)

	client.Kill()
	deadline := time.Now().Add(5 * time.Second)
	for !client.Exited() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	r.Exited = client.Exited()
	hostLog := logOut.String()
	r.Graceful = strings.Contains(hostLog, "plugin exited") && !strings.Contains(hostLog, "plugin failed to exit gracefully")
	for _, line := range strings.Split(hostLog, "\n") {
		if strings.Contains(line, "[INFO]") && strings.Contains(line, "plugin started") {
			r.PluginLogInfo = true
		}
	}
	r.HostLog = hostLog
	if !r.Exited {
		fail("the plugin did not exit after Kill")
	}
	out, _ := json.MarshalIndent(r, "", " ")
	fmt.Println(string(out))
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

func bench(pluginPath, gateURL string, n int) {
	logOut := hostLog
	client, rpcClient, p := start(pluginPath, logOut)
	defer client.Kill()
	run, metric := sample(gateURL, "healthy", nil, 0)
	for i := 0; i < 20; i++ { // warm up: JIT, keep-alive connection to the gate
		rpcClient.Ping()
		p.Run(run, metric)
	}
	pings := make([]time.Duration, 0, n)
	runs := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		must("Ping", rpcClient.Ping())
		pings = append(pings, time.Since(t0))
		t1 := time.Now()
		m, err := p.Run(run, metric)
		must("Run", err)
		if m.Phase != "Successful" {
			fail("bench Run: phase " + string(m.Phase) + ": " + m.Message)
		}
		runs = append(runs, time.Since(t1))
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
	out, _ := json.Marshal(map[string]interface{}{
		"n":    n,
		"ping": map[string]float64{"p50": us(percentile(pings, 0.5)), "p99": us(percentile(pings, 0.99))},
		"run":  map[string]float64{"p50": us(percentile(runs, 0.5)), "p99": us(percentile(runs, 0.99))},
		"unit": "microseconds",
	})
	fmt.Println(string(out))
}
