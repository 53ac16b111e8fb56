// Package argo mirrors the Go types Argo Rollouts (v1.9.x) sends to a metric-provider plugin:
// pkg/apis/rollouts/v1alpha1 (AnalysisRun, Metric, Measurement, ...) and the Kubernetes types
// they embed (ObjectMeta, JobSpec -> PodSpec). Argo itself is not packaged for Debian, so the
// test host declares its own copies. gob matches struct fields by name and ignores type names
// (except the names registered for interface values), so field names here follow Argo's and
// Kubernetes' exactly. Only the fields are mirrored, not the methods.
package argo

import (
	"encoding/json"
	"time"
)

// Time mirrors metav1.Time: a struct embedding time.Time, so gob sends it as a GobEncoder
// (time.Time's MarshalBinary payload) under the type name "Time".
type Time struct {
	time.Time
}

// Quantity mirrors resource.Quantity as gob sees it: the amount is in unexported fields, which
// gob does not send, so only the embedded Format ("DecimalSI", "BinarySI") crosses the wire.
// (gob never uses TextMarshaler, and Quantity is not a GobEncoder or BinaryMarshaler.)
type Quantity struct {
	s string
	Format
}

type Format string

func NewQuantity(s string) Quantity { return Quantity{s: s, Format: "BinarySI"} }

type TypeMeta struct {
	Kind       string
	APIVersion string
}

type OwnerReference struct {
	APIVersion         string
	Kind               string
	Name               string
	UID                string
	Controller         *bool
	BlockOwnerDeletion *bool
}

type FieldsV1 struct {
	Raw []byte
}

type ManagedFieldsEntry struct {
	Manager     string
	Operation   string
	APIVersion  string
	Time        *Time
	FieldsType  string
	FieldsV1    *FieldsV1
	Subresource string
}

type ObjectMeta struct {
	Name                       string
	GenerateName               string
	Namespace                  string
	SelfLink                   string
	UID                        string
	ResourceVersion            string
	Generation                 int64
	CreationTimestamp          Time
	DeletionTimestamp          *Time
	DeletionGracePeriodSeconds *int64
	Labels                     map[string]string
	Annotations                map[string]string
	OwnerReferences            []OwnerReference
	Finalizers                 []string
	ManagedFields              []ManagedFieldsEntry
}

type IntOrString struct {
	Type   int64
	IntVal int32
	StrVal string
}

type AnalysisRun struct {
	TypeMeta
	ObjectMeta
	Spec   AnalysisRunSpec
	Status AnalysisRunStatus
}

type AnalysisRunSpec struct {
	Metrics              []Metric
	Args                 []Argument
	Terminate            bool
	DryRun               []DryRun
	MeasurementRetention []MeasurementRetention
	TTLStrategy          *TTLStrategy
}

type TTLStrategy struct {
	SecondsAfterCompletion *int32
	SecondsAfterFailure    *int32
	SecondsAfterSuccess    *int32
}

type DryRun struct{ MetricName string }

type MeasurementRetention struct {
	MetricName string
	Limit      int32
}

type Argument struct {
	Name      string
	Value     *string
	ValueFrom *ValueFrom
}

type ValueFrom struct {
	SecretKeyRef *SecretKeyRef
	FieldRef     *FieldRef
}

type SecretKeyRef struct {
	Name string
	Key  string
}

type FieldRef struct{ FieldPath string }

type DurationString string

type Metric struct {
	Name                    string
	Interval                DurationString
	InitialDelay            DurationString
	Count                   *IntOrString
	SuccessCondition        string
	FailureCondition        string
	FailureLimit            *IntOrString
	InconclusiveLimit       *IntOrString
	ConsecutiveErrorLimit   *IntOrString
	Provider                MetricProvider
	ConsecutiveSuccessLimit *IntOrString
}

type MetricProvider struct {
	Prometheus *PrometheusMetric
	Kayenta    *KayentaMetric
	Web        *WebMetric
	Datadog    *DatadogMetric
	Wavefront  *WavefrontMetric
	NewRelic   *NewRelicMetric
	Job        *JobMetric
	CloudWatch *CloudWatchMetric
	Graphite   *GraphiteMetric
	Influxdb   *InfluxdbMetric
	SkyWalking *SkyWalkingMetric
	Plugin     map[string]json.RawMessage
}

type PrometheusRangeQueryArgs struct {
	Start string
	End   string
	Step  DurationString
}

type PrometheusMetric struct {
	Address        string
	Query          string
	Authentication Authentication
	Timeout        *int64
	Insecure       bool
	Headers        []WebMetricHeader
	RangeQuery     *PrometheusRangeQueryArgs
}

type Authentication struct {
	Sigv4  Sigv4Config
	OAuth2 OAuth2Config
}

type OAuth2Config struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
}

type Sigv4Config struct {
	Region  string
	Profile string
	RoleARN string
}

type KayentaMetric struct {
	Address                  string
	Application              string
	CanaryConfigName         string
	MetricsAccountName       string
	ConfigurationAccountName string
	StorageAccountName       string
	Threshold                KayentaThreshold
	Scopes                   []KayentaScope
	Lookback                 bool
}

type KayentaThreshold struct {
	Pass     int64
	Marginal int64
}

type KayentaScope struct {
	Name            string
	ControlScope    ScopeDetail
	ExperimentScope ScopeDetail
}

type ScopeDetail struct {
	Scope  string
	Region string
	Step   int64
	Start  string
	End    string
}

type WebMetricMethod string

type WebMetric struct {
	Method         WebMetricMethod
	URL            string
	Headers        []WebMetricHeader
	Body           string
	TimeoutSeconds int64
	JSONPath       string
	Insecure       bool
	JSONBody       json.RawMessage
	Authentication Authentication
}

type WebMetricHeader struct {
	Key   string
	Value string
}

type DatadogMetric struct {
	Interval   DurationString
	Query      string
	Queries    map[string]string
	Formula    string
	ApiVersion string
	Aggregator string
	SecretRef  SecretRef
}

type SecretRef struct {
	Name       string
	Namespaced bool
}

type WavefrontMetric struct {
	Address string
	Query   string
}

type NewRelicMetric struct {
	Profile string
	Query   string
	Timeout *int64
}

type GraphiteMetric struct {
	Address string
	Query   string
}

type InfluxdbMetric struct {
	Profile string
	Query   string
}

type SkyWalkingMetric struct {
	Address  string
	Query    string
	Interval DurationString
}

type CloudWatchMetric struct {
	Interval          DurationString
	MetricDataQueries []CloudWatchMetricDataQuery
}

type CloudWatchMetricDataQuery struct {
	Id         string
	Expression *string
	Label      *string
	MetricStat *CloudWatchMetricStat
	Period     *IntOrString
	ReturnData *bool
}

type CloudWatchMetricStat struct {
	Metric CloudWatchMetricStatMetric
	Period IntOrString
	Stat   string
	Unit   string
}

type CloudWatchMetricStatMetric struct {
	Dimensions []CloudWatchMetricStatMetricDimension
	MetricName string
	Namespace  *string
}

type CloudWatchMetricStatMetricDimension struct {
	Name  string
	Value string
}

// JobMetric -> batchv1.JobSpec -> PodTemplateSpec -> PodSpec: the deepest part of the tree.
type JobMetric struct {
	Metadata ObjectMeta
	Spec     JobSpec
}

type LabelSelectorRequirement struct {
	Key      string
	Operator string
	Values   []string
}

type LabelSelector struct {
	MatchLabels      map[string]string
	MatchExpressions []LabelSelectorRequirement
}

type JobSpec struct {
	Parallelism             *int32
	Completions             *int32
	ActiveDeadlineSeconds   *int64
	BackoffLimit            *int32
	Selector                *LabelSelector
	ManualSelector          *bool
	Template                PodTemplateSpec
	TTLSecondsAfterFinished *int32
	CompletionMode          *string
	Suspend                 *bool
}

type PodTemplateSpec struct {
	ObjectMeta
	Spec PodSpec
}

type PodSpec struct {
	Volumes                       []Volume
	InitContainers                []Container
	Containers                    []Container
	RestartPolicy                 string
	TerminationGracePeriodSeconds *int64
	ActiveDeadlineSeconds         *int64
	NodeSelector                  map[string]string
	ServiceAccountName            string
	AutomountServiceAccountToken  *bool
	SecurityContext               *PodSecurityContext
	Affinity                      *Affinity
	Tolerations                   []Toleration
	PriorityClassName             string
	Overhead                      map[string]Quantity
}

type Volume struct {
	Name string
	VolumeSource
}

type VolumeSource struct {
	EmptyDir  *EmptyDirVolumeSource
	Secret    *SecretVolumeSource
	ConfigMap *ConfigMapVolumeSource
}

type EmptyDirVolumeSource struct {
	Medium    string
	SizeLimit *Quantity
}

type KeyToPath struct {
	Key  string
	Path string
	Mode *int32
}

type SecretVolumeSource struct {
	SecretName  string
	Items       []KeyToPath
	DefaultMode *int32
	Optional    *bool
}

type LocalObjectReference struct{ Name string }

type ConfigMapVolumeSource struct {
	LocalObjectReference
	Items       []KeyToPath
	DefaultMode *int32
	Optional    *bool
}

type Container struct {
	Name            string
	Image           string
	Command         []string
	Args            []string
	WorkingDir      string
	Ports           []ContainerPort
	Env             []EnvVar
	Resources       ResourceRequirements
	VolumeMounts    []VolumeMount
	ImagePullPolicy string
	SecurityContext *SecurityContext
}

type ContainerPort struct {
	Name          string
	HostPort      int32
	ContainerPort int32
	Protocol      string
}

type EnvVar struct {
	Name      string
	Value     string
	ValueFrom *EnvVarSource
}

type EnvVarSource struct {
	SecretKeyRef *SecretKeySelector
}

type SecretKeySelector struct {
	LocalObjectReference
	Key      string
	Optional *bool
}

type ResourceRequirements struct {
	Limits   map[string]Quantity
	Requests map[string]Quantity
}

type VolumeMount struct {
	Name      string
	ReadOnly  bool
	MountPath string
}

type Capabilities struct {
	Add  []string
	Drop []string
}

type SecurityContext struct {
	Capabilities             *Capabilities
	Privileged               *bool
	RunAsUser                *int64
	RunAsNonRoot             *bool
	ReadOnlyRootFilesystem   *bool
	AllowPrivilegeEscalation *bool
}

type PodSecurityContext struct {
	RunAsUser          *int64
	RunAsGroup         *int64
	RunAsNonRoot       *bool
	FSGroup            *int64
	SupplementalGroups []int64
}

type Affinity struct {
	NodeAffinity *NodeAffinity
}

type NodeAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution *NodeSelector
}

type NodeSelector struct {
	NodeSelectorTerms []NodeSelectorTerm
}

type NodeSelectorTerm struct {
	MatchExpressions []NodeSelectorRequirement
}

type NodeSelectorRequirement struct {
	Key      string
	Operator string
	Values   []string
}

type Toleration struct {
	Key               string
	Operator          string
	Value             string
	Effect            string
	TolerationSeconds *int64
}

type AnalysisPhase string

type AnalysisRunStatus struct {
	Phase         AnalysisPhase
	Message       string
	MetricResults []MetricResult
	StartedAt     *Time
	RunSummary    RunSummary
	DryRunSummary *RunSummary
	CompletedAt   *Time
}

type RunSummary struct {
	Count        int32
	Successful   int32
	Failed       int32
	Inconclusive int32
	Error        int32
}

type MetricResult struct {
	Name               string
	Phase              AnalysisPhase
	Measurements       []Measurement
	Message            string
	Count              int32
	Successful         int32
	Failed             int32
	Inconclusive       int32
	Error              int32
	ConsecutiveError   int32
	DryRun             bool
	Metadata           map[string]string
	ConsecutiveSuccess int32
}

type Measurement struct {
	Phase      AnalysisPhase
	Message    string
	StartedAt  *Time
	FinishedAt *Time
	Value      string
	Metadata   map[string]string
	ResumeAt   *Time
}
