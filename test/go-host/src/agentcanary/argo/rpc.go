package argo

// The host half of Argo's metric-plugin RPC (metricproviders/plugin/rpc/rpc.go), rewritten
// for the test: the same gob names, the same argument shapes (every argument is an
// interface{} holding a struct), the same service methods and reply types.

import (
	"encoding/gob"
	"net/rpc"

	plugin "github.com/hashicorp/go-plugin"
)

type RunArgs struct {
	AnalysisRun *AnalysisRun
	Metric      Metric
}

type TerminateAndResumeArgs struct {
	AnalysisRun *AnalysisRun
	Metric      Metric
	Measurement Measurement
}

type GarbageCollectArgs struct {
	AnalysisRun *AnalysisRun
	Metric      Metric
	Limit       int
}

type GetMetadataArgs struct {
	Metric Metric
}

// RpcError mirrors utils/plugin/types.RpcError: "" means no error.
type RpcError struct {
	ErrorString string
}

func (e RpcError) Error() string { return e.ErrorString }

func init() {
	gob.RegisterName("RunArgs", new(RunArgs))
	gob.RegisterName("TerminateAndResumeArgs", new(TerminateAndResumeArgs))
	gob.RegisterName("GarbageCollectArgs", new(GarbageCollectArgs))
	gob.RegisterName("GetMetadataArgs", new(GetMetadataArgs))
	gob.RegisterName("RpcError", new(RpcError))
}

// HandshakeConfig is Argo's (metricproviders/plugin/client/client.go).
var HandshakeConfig = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "metricprovider",
}

// PluginName is the key Argo dispenses.
const PluginName = "RpcMetricProviderPlugin"

// MetricsPluginRPC calls the plugin as Argo's MetricsPluginRPC does, but returns transport
// errors instead of folding them into the reply, so the test can tell them apart.
type MetricsPluginRPC struct{ Client *rpc.Client }

func (g *MetricsPluginRPC) InitPlugin() (RpcError, error) {
	var resp RpcError
	err := g.Client.Call("Plugin.InitPlugin", new(interface{}), &resp)
	return resp, err
}

func (g *MetricsPluginRPC) Run(run *AnalysisRun, metric Metric) (Measurement, error) {
	var resp Measurement
	var args interface{} = RunArgs{AnalysisRun: run, Metric: metric}
	err := g.Client.Call("Plugin.Run", &args, &resp)
	return resp, err
}

func (g *MetricsPluginRPC) Resume(run *AnalysisRun, metric Metric, m Measurement) (Measurement, error) {
	var resp Measurement
	var args interface{} = TerminateAndResumeArgs{AnalysisRun: run, Metric: metric, Measurement: m}
	err := g.Client.Call("Plugin.Resume", &args, &resp)
	return resp, err
}

func (g *MetricsPluginRPC) Terminate(run *AnalysisRun, metric Metric, m Measurement) (Measurement, error) {
	var resp Measurement
	var args interface{} = TerminateAndResumeArgs{AnalysisRun: run, Metric: metric, Measurement: m}
	err := g.Client.Call("Plugin.Terminate", &args, &resp)
	return resp, err
}

func (g *MetricsPluginRPC) GarbageCollect(run *AnalysisRun, metric Metric, limit int) (RpcError, error) {
	var resp RpcError
	var args interface{} = GarbageCollectArgs{AnalysisRun: run, Metric: metric, Limit: limit}
	err := g.Client.Call("Plugin.GarbageCollect", &args, &resp)
	return resp, err
}

func (g *MetricsPluginRPC) Type() (string, error) {
	var resp string
	err := g.Client.Call("Plugin.Type", new(interface{}), &resp)
	return resp, err
}

func (g *MetricsPluginRPC) GetMetadata(metric Metric) (map[string]string, error) {
	var resp map[string]string
	var args interface{} = GetMetadataArgs{Metric: metric}
	err := g.Client.Call("Plugin.GetMetadata", &args, &resp)
	return resp, err
}

// RpcMetricsPlugin is the go-plugin Plugin the host dispenses (client side only).
type RpcMetricsPlugin struct{}

func (RpcMetricsPlugin) Server(*plugin.MuxBroker) (interface{}, error) {
	return nil, nil // the plugin side is the TypeScript program under test
}

func (RpcMetricsPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return &MetricsPluginRPC{Client: c}, nil
}
