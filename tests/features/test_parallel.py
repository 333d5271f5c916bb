"""The chunk runner behind extraction and augmentation: light, single-threaded, tuned workers."""

import os
import sys

from asckit.features import extraction, parallel


def _probe(chunk):
    """What a worker has loaded and how its threads are set, after the extraction initializer."""
    from threadpoolctl import threadpool_info

    extraction._extract_chunk([])  # the extraction's own imports
    return {
        "chunk": chunk,
        "pid": os.getpid(),
        "modules": sorted(m for m in ("torch", "pandas", "librosa") if m in sys.modules),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "blas_threads": sorted({pool["num_threads"] for pool in threadpool_info()}),
    }


def test_extraction_workers_import_no_torch_pandas_or_librosa_and_run_single_threaded():
    from asckit.features.logmel import mel_of, settings_for

    settings = settings_for("1a")
    results = []
    parallel.run_chunks(
        _probe, [[0], [1], [2], [3]], 2, extraction._init_worker, (settings, mel_of(settings), "."), results.append
    )
    assert sorted(r["chunk"] for r in results) == [[0], [1], [2], [3]]
    assert os.getpid() not in {r["pid"] for r in results}  # the work ran in other processes
    for result in results:
        assert result["modules"] == []  # worker start-up stays near 0.2 s (torch alone takes 1.1 s)
        assert result["omp"] == "1"
        assert result["blas_threads"] in ([], [1])


def test_one_worker_runs_in_this_process():
    results = []
    parallel.run_chunks(lambda chunk: (chunk, os.getpid()), [[0], [1]], 1, lambda: None, (), results.append)
    assert results == [([0], os.getpid()), ([1], os.getpid())]


def test_freed_memory_is_kept_on_glibc():
    """The allocator setting that took a clip's log-mel from 4.5 to 2.8 ms in a worker."""
    import platform

    kept = parallel.keep_freed_memory()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert kept is True
    else:
        assert kept is False
