package argo

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PluginKey is the plugin's name in argo-rollouts-config and in provider.plugin.
const PluginKey = "cordum/agent-canary-gate"

func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }
func i32p(i int32) *int32   { return &i }
func i64p(i int64) *int64   { return &i }

// StartedAt is the fixed status.startedAt of sample runs, so tests can check the window start.
var StartedAt = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// SampleOptions describes one AnalysisRun the way Argo creates it for a canary step.
type SampleOptions struct {
	Rollout    string
	Namespace  string
	Revision   string
	CanaryHash string
	StableHash string
	// Config is the JSON object under provider.plugin["cordum/agent-canary-gate"].
	Config map[string]interface{}
	// History adds this many finished measurements (with long messages) to the status, to make
	// the gob message as large as a long-running analysis makes it.
	History int
}

// SampleRun returns an AnalysisRun with the full type tree in use (ObjectMeta with owner
// references and managed fields, a Job metric with a PodSpec, args, status with time fields)
// and the gate metric to measure.
func SampleRun(o SampleOptions) (*AnalysisRun, Metric) {
	raw, err := json.Marshal(o.Config)
	if err != nil {
		panic(err)
	}
	created := StartedAt.Add(-2 * time.Second)
	gate := Metric{
		Name:                  "agent-canary-gate",
		Interval:              "5m",
		Count:                 &IntOrString{Type: 0, IntVal: 3},
		FailureLimit:          &IntOrString{Type: 0, IntVal: 0},
		ConsecutiveErrorLimit: &IntOrString{Type: 1, StrVal: "4"},
		Provider:              MetricProvider{Plugin: map[string]json.RawMessage{PluginKey: raw}},
	}
	job := Metric{
		Name: "smoke-job",
		Provider: MetricProvider{Job: &JobMetric{
			Metadata: ObjectMeta{Labels: map[string]string{"purpose": "smoke"}},
			Spec: JobSpec{
				BackoffLimit: i32p(1),
				Template: PodTemplateSpec{
					ObjectMeta: ObjectMeta{Annotations: map[string]string{"sidecar.istio.io/inject": "false"}},
					Spec: PodSpec{
						RestartPolicy:                 "Never",
						TerminationGracePeriodSeconds: i64p(30),
						NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
						SecurityContext:               &PodSecurityContext{RunAsNonRoot: boolp(true), RunAsUser: i64p(65532), SupplementalGroups: []int64{1000, 2000}},
						Affinity: &Affinity{NodeAffinity: &NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{
							NodeSelectorTerms: []NodeSelectorTerm{{MatchExpressions: []NodeSelectorRequirement{{Key: "pool", Operator: "In", Values: []string{"agents", "general"}}}}},
						}}},
						Tolerations: []Toleration{{Key: "dedicated", Operator: "Equal", Value: "agents", Effect: "NoSchedule", TolerationSeconds: i64p(300)}},
						Volumes: []Volume{
							{Name: "scratch", VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{SizeLimit: quantityp("64Mi")}}},
							{Name: "creds", VolumeSource: VolumeSource{Secret: &SecretVolumeSource{SecretName: "smoke-creds", Items: []KeyToPath{{Key: "token", Path: "token", Mode: i32p(0400)}}}}},
						},
						Containers: []Container{{
							Name:    "smoke",
							Image:   "registry.example/agents/smoke:1.4.2",
							Command: []string{"/bin/smoke"},
							Args:    []string{"--target", "support-agent-canary", "--cases", "20"},
							Ports:   []ContainerPort{{Name: "metrics", ContainerPort: 9090, Protocol: "TCP"}},
							Env: []EnvVar{
								{Name: "LOG_LEVEL", Value: "info"},
								{Name: "TOKEN", ValueFrom: &EnvVarSource{SecretKeyRef: &SecretKeySelector{LocalObjectReference: LocalObjectReference{Name: "smoke-creds"}, Key: "token"}}},
							},
							Resources: ResourceRequirements{
								Limits:   map[string]Quantity{"cpu": NewQuantity("500m"), "memory": NewQuantity("256Mi")},
								Requests: map[string]Quantity{"cpu": NewQuantity("100m")},
							},
							VolumeMounts:    []VolumeMount{{Name: "scratch", MountPath: "/tmp"}, {Name: "creds", MountPath: "/var/run/creds", ReadOnly: true}},
							SecurityContext: &SecurityContext{Capabilities: &Capabilities{Drop: []string{"ALL"}}, AllowPrivilegeEscalation: boolp(false), ReadOnlyRootFilesystem: boolp(true)},
						}},
					},
				},
			},
		}},
	}
	run := &AnalysisRun{
		TypeMeta: TypeMeta{Kind: "AnalysisRun", APIVersion: "argoproj.io/v1alpha1"},
		ObjectMeta: ObjectMeta{
			Name:              fmt.Sprintf("%s-%s-%s-2", o.Rollout, o.CanaryHash, o.Revision),
			Namespace:         o.Namespace,
			UID:               "6f1c2a7e-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
			ResourceVersion:   "48213",
			Generation:        2,
			CreationTimestamp: Time{created},
			Labels: map[string]string{
				"rollouts-pod-template-hash": o.CanaryHash,
				"rollout-type":               "Step",
				"step-index":                 "2",
				"app":                        o.Rollout,
			},
			Annotations: map[string]string{"rollout.argoproj.io/revision": o.Revision},
			OwnerReferences: []OwnerReference{{
				APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: o.Rollout,
				UID: "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d", Controller: boolp(true), BlockOwnerDeletion: boolp(true),
			}},
			ManagedFields: []ManagedFieldsEntry{{
				Manager: "rollouts-controller", Operation: "Update", APIVersion: "argoproj.io/v1alpha1",
				Time: &Time{created}, FieldsType: "FieldsV1", FieldsV1: &FieldsV1{Raw: []byte(`{"f:spec":{"f:metrics":{}}}`)},
			}},
		},
		Spec: AnalysisRunSpec{
			Metrics: []Metric{gate, job},
			Args: []Argument{
				{Name: "stable-hash", Value: strp(o.StableHash)},
				{Name: "canary-hash", Value: strp(o.CanaryHash)},
				{Name: "gate-api-key", ValueFrom: &ValueFrom{SecretKeyRef: &SecretKeyRef{Name: "agent-canary-gate", Key: "api-key"}}},
			},
			MeasurementRetention: []MeasurementRetention{{MetricName: ".*", Limit: 20}},
			TTLStrategy:          &TTLStrategy{SecondsAfterCompletion: i32p(3600)},
		},
		Status: AnalysisRunStatus{
			Phase:      "Running",
			StartedAt:  &Time{StartedAt},
			RunSummary: RunSummary{Count: 2},
		},
	}
	if o.History > 0 {
		result := MetricResult{Name: gate.Name, Phase: "Running", Count: int32(o.History), Successful: int32(o.History),
			Metadata: map[string]string{"stage": "canary-1"}}
		for i := 0; i < o.History; i++ {
			at := StartedAt.Add(time.Duration(i) * 5 * time.Minute)
			result.Measurements = append(result.Measurements, Measurement{
				Phase: "Successful", Message: fmt.Sprintf("measurement %d: %s", i, strings.Repeat("evidence ", 200)),
				StartedAt: &Time{at}, FinishedAt: &Time{at.Add(40 * time.Millisecond)}, Value: "97",
				Metadata: map[string]string{"verdict": "pass", "score": "97", "decisionId": fmt.Sprintf("dec-%04d", i)},
			})
		}
		run.Status.MetricResults = []MetricResult{result}
	}
	return run, gate
}

func quantityp(s string) *Quantity {
	q := NewQuantity(s)
	return &q
}
