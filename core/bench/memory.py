"""A process's own peak memory, for the benchmarks' figures.

Linux carries `resource.getrusage`'s ru_maxrss over from the parent through fork and exec, so a measuring
child launched by a benchmark that has just built a million lines would report the builder's peak. The
process's own high-water mark (VmHWM in /proc) is read instead where there is one.
"""
import resource
from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_mb() -> float:
    """This process's peak resident memory in MB."""
    if STATUS.exists():
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
