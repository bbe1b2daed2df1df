"""Prometheus text-format metrics for the model server (no client library needed)."""
import threading

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: dict[str, int] = {}
        self.bucket_counts = [0] * len(BUCKETS)
        self.sum = 0.0
        self.count = 0

    def observe(self, status: str, seconds: float) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1
            for i, b in enumerate(BUCKETS):
                if seconds <= b:
                    self.bucket_counts[i] += 1  # Prometheus buckets are cumulative
            self.sum += seconds
            self.count += 1

    def render(self) -> str:
        mem = proc_status()
        with self.lock:
            lines = ["# HELP slipway_model_requests_total Chat completion requests by HTTP status.",
                     "# TYPE slipway_model_requests_total counter"]
            lines += [f'slipway_model_requests_total{{status="{s}"}} {n}' for s, n in sorted(self.by_status.items())]
            lines += ["# HELP slipway_model_request_duration_seconds Chat completion latency.",
                      "# TYPE slipway_model_request_duration_seconds histogram"]
            lines += [f'slipway_model_request_duration_seconds_bucket{{le="{b}"}} {c}'
                      for b, c in zip(BUCKETS, self.bucket_counts, strict=True)]
            lines += [f'slipway_model_request_duration_seconds_bucket{{le="+Inf"}} {self.count}',
                      f"slipway_model_request_duration_seconds_sum {self.sum:.6f}",
                      f"slipway_model_request_duration_seconds_count {self.count}"]
        lines += ["# HELP process_resident_memory_bytes Resident memory (VmRSS).",
                  "# TYPE process_resident_memory_bytes gauge",
                  f"process_resident_memory_bytes {mem.get('VmRSS', 0)}",
                  "# HELP slipway_model_peak_memory_bytes Peak resident memory (VmHWM).",
                  "# TYPE slipway_model_peak_memory_bytes gauge",
                  f"slipway_model_peak_memory_bytes {mem.get('VmHWM', 0)}"]
        return "\n".join(lines) + "\n"


def proc_status() -> dict[str, int]:
    """VmRSS/VmHWM in bytes from /proc/self/status (empty off Linux)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0]) * 1024  # reported in kB
    except OSError:
        pass
    return out
