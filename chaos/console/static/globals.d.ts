// The page's view of the console contract (GET /api/meta and the /events stream), and
// the global `Plotly` that the classic script /static/vendor/plotly.min.js defines.
/// <reference types="plotly.js" />

interface Attribute { name: string; type: "int" | "float" | "str" | "bool"; default: unknown; unit: string; doc: string }
interface Toxic { type: string; protocols: string[]; doc: string; attributes: Attribute[] }
interface ExperimentMeta { fallacy: number; name: string; title: string; defences: string[] }
interface Meta {
  backend: string; token_required: boolean; token_header: string; streams: string[];
  node_actions: string[]; toxics: Toxic[]; experiments: ExperimentMeta[];
  defences: Record<string, string>; ttl_max_s: number; ttl_default_s?: number;
}
interface Numbers {
  success_ratio: number; p50_s: number; p99_s: number; requests_per_journey: number;
  bytes_per_journey: number; clock_offset_s: number; forged_accepted: number;
  key_rejections: number; journeys: number; running_s: number; failing: boolean;
}
interface Sample { t: number; clients: Record<string, Numbers | undefined> }
interface FaultWindow { link: string; fault: string; type: string; start: number; end: number | null }
interface MeshNode { name: string; kind: string; state: string; healthy: boolean; pid: number | null }
interface Fault {
  name: string; type: string; stream: string; toxicity: number;
  attributes: Record<string, unknown>; expires_in_s: number | null;
}
interface Link {
  name: string; protocol: string; from: string; to: string; listen: string; upstream: string;
  proxy: string; enabled: boolean | null; faults: Fault[];
}
interface AuditEntry { seq: number; time: string; actor: string; action: string; proxy: string | null; toxic: string | null }
interface Expectation {
  description: string; client: string; passed: boolean; observed: number | null;
  op: string; threshold: number; unit: string;
}
interface Result { fallacy: number; name: string; title: string; status: string; expectations: Expectation[] }
interface Narration { fallacy: string; inject: string; watch: string; pattern: string; ask?: string }
interface Run {
  id: string; which: string; state: string; step: boolean; quick: boolean; disabled: string[];
  index: number; total: number;
  experiment: { fallacy: number; name: string; title: string; narration: Narration } | null;
  phase: string | null; time_left_s: number | null; results: Result[];
  error: string | null; report: string | null;
}
interface MatrixRow { fallacy: number; experiment: string; defence: string; protects: string[]; last: string | null }
interface WaterfallRow {
  level: number; kind: string; name: string; start_s: number; end_s: number; duration_s: number;
  detail: string; segments: { kind: string; start_s: number; end_s: number }[];
}
interface LastJourney {
  started_at: number | null; duration_s: number | null; outcome: string | null; rows: WaterfallRow[];
}
interface Snapshot {
  t: number; sampled_in_ms: number; backend: string; view: { kind: string; why?: string };
  sample: Sample | null; windows: FaultWindow[]; nodes: MeshNode[]; links: Link[];
  journeys: Record<string, LastJourney | undefined>;
  audit: AuditEntry[]; run: Run | null; matrix: MatrixRow[];
}
interface History { samples: Sample[]; windows: FaultWindow[] }
