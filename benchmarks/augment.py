"""Offline augmentation throughput: clips/s of each kind on 10 s 44.1 kHz clips, and the full-set projection.

Writes a temporary TAU-layout root of N device-A clips plus one time-parallel twin each on the
other training devices (b, c, s1, s2, s3 in turn, so spectrum correction has pairs), extracts the
originals into a store, then:

1. times each transform alone in this process (ms per clip, one thread), to show where time goes;
2. runs `asckit.features.augmented.augment_dataset` kind by kind with W workers, twice: one row
   per clip, then four more per clip (``copies=5``). It prints each run's clips/s (rows added /
   wall time, everything included) and splits the time into a fixed part (worker start-up,
   imports, numba compilation, the simulated RIR bank) and a marginal clips/s, from the two runs'
   difference. The spectrum-correction coefficient pass is timed on its own, in pairs/s;
3. projects the whole Task 1a training set (13,965 clips; 10,215 device-A clips for the A-only
   kinds; 3,750 pairs) as fixed + clips / marginal rate per kind, against the 2-hour target,
   from wall-clock time and, for a machine shared with other work, from CPU time (all processes)
   divided by the worker count: the figure an idle machine with that many cores would give.

The fixed/marginal split needs enough rows to rise above timing noise: a few dozen clips at least.

    python benchmarks/augment.py [--clips 40] [--workers 2] [--kinds all]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

FULL_TRAIN = 13965
FULL_DEVICE_A = 10215
FULL_PAIRS = 3750
TARGET_HOURS = 2.0
SR = 44100
OTHER_DEVICES = ("b", "c", "s1", "s2", "s3")
SCENES = ("airport", "bus", "park", "tram")


def make_root(root: Path, clips: int) -> None:
    """N device-A clips at a street-recording level (about -35 dBFS RMS) and one twin each."""
    import soundfile

    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(10 * SR) / SR
    rows = ["filename\tscene_label"]
    for i in range(clips):
        scene = SCENES[i % len(SCENES)]
        base = 0.015 * rng.standard_normal(10 * SR) + 0.02 * np.sin(2 * np.pi * (150 + 7 * i) * t) * (1 + np.sin(2 * np.pi * 0.3 * t))
        twin_device = OTHER_DEVICES[i % len(OTHER_DEVICES)]
        # a crude "other device": a gentle low-pass and a gain
        twin = 0.7 * np.convolve(base, np.ones(4) / 4, mode="same")
        for device, audio in (("a", base), (twin_device, twin)):
            name = f"audio/{scene}-city-{100 + i}-{1000 + i}-{device}.wav"
            soundfile.write(root / name, audio.astype(np.float32), SR, subtype="PCM_24")
            rows.append(f"{name}\t{scene}")
    (root / "evaluation_setup" / "fold1_train.csv").write_text("\n".join(rows) + "\n")


def serial_ms(root: Path, settings, repeats: int = 3) -> dict[str, float]:
    """Median ms per 10 s clip of each transform alone (one process, one thread)."""
    from threadpoolctl import threadpool_limits

    from asckit.audio import augment
    from asckit.audio.io import load_clip
    from asckit.audio.rir import simulate_rir
    from asckit.features.logmel import LogMel
    from asckit.features.spectrum_correction import corrected_logmel

    threadpool_limits(1)
    clip = load_clip(sorted((root / "audio").glob("*-a.wav"))[0], None, SR, 1, 10.0)
    other = load_clip(sorted((root / "audio").glob("*-b.wav"))[0], None, SR, 1, 10.0)
    rir = simulate_rir(0, 0, SR).samples
    curve, fallback = augment.COMPAND_SETS["mardy"][0], augment.COMPAND_FALLBACK["mardy"]
    extractor = LogMel(settings)
    steps = {
        "log-mel": lambda: extractor(clip),
        "mix": lambda: augment.mix(clip, other, 0.7, 0.8),
        "noise": lambda: augment.add_noise(clip, np.random.default_rng(0)),
        "pitch (librosa)": lambda: augment.pitch_shift(clip, SR, 2.7),
        "speed (librosa), rate 0.6": lambda: augment.change_speed(clip, 0.6),
        "speed (librosa), rate 1.6": lambda: augment.change_speed(clip, 1.6),
        "spectrum-corrected log-mel": lambda: corrected_logmel(clip, np.ones(1025), extractor),
        "reverb, 1 s RIR": lambda: augment.convolve_rir(clip, rir),
        "compand (sox-like)": lambda: augment.compand_like_reference(clip, SR, curve, fallback),
    }
    out = {}
    for name, step in steps.items():
        step()  # first call: imports, numba compilation, caches
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        out[name] = 1000 * float(np.median(times))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=40, help="device-A clips (the root holds twice as many)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", default=["all"])
    parser.add_argument("--no-serial", action="store_true", help="skip the per-transform timings")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from asckit.features.augment_kinds import AUGMENT_FOLDER, KINDS, AugmentOptions
    from asckit.features.augmented import augment_dataset, resolve_kinds
    from asckit.features.extraction import extract_dataset
    from asckit.features.spectrum_correction import COEFFICIENTS_FILE, spectrum_correction_coefficients

    kinds = resolve_kinds(args.kinds)
    with tempfile.TemporaryDirectory() as tmp:
        root, store_path = Path(tmp) / "root", Path(tmp) / "store"
        make_root(root, args.clips)
        store = extract_dataset(root, store_path, workers=args.workers, progress=False)
        print(f"{2 * args.clips} clips of 10 s at 44.1 kHz ({args.clips} device A), {args.workers} workers, cpu count {os.cpu_count()}")
        if not args.no_serial:
            print("\nserial, one thread, ms per clip:")
            for name, ms in serial_ms(root, store.settings).items():
                print(f"  {name:<28} {ms:8.1f}")

        if "spectrum-correction" in kinds:
            wall, cpu = time.perf_counter(), cpu_seconds()
            coefficients = spectrum_correction_coefficients(root, store.settings, workers=args.workers, progress=False)
            pass_wall, pass_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            # saved where the driver looks, so its runs reuse them and time only the rows
            (store_path / AUGMENT_FOLDER).mkdir(exist_ok=True)
            (store_path / AUGMENT_FOLDER / COEFFICIENTS_FILE).write_text(json.dumps(coefficients))

        print(f"\naugment_dataset, {args.workers} workers (run 1: one row per clip; run 2: four more per clip)")
        print("  wall: clips/s of each run, then fixed s + marginal clips/s from their difference;")
        print(f"  cpu: CPU ms per row (all processes), marginal; hours: full set from wall | from CPU / {args.workers}")
        print(f"  {'kind':<20} {'rows':>5} {'clips/s':>8} {'rows':>5} {'clips/s':>8} {'fixed s':>8} {'marginal':>8} "
              f"{'cpu ms':>7} {'h wall':>7} {'h cpu':>6}")
        totals = [0.0, 0.0]
        chunk_size = max(1, min(16, args.clips // (2 * args.workers)))  # several chunks, so the pool runs
        for kind in KINDS:
            if kind not in kinds:
                continue
            runs, cpus = [], []
            for copies in (1, 5):
                cpu = cpu_seconds()
                runs.append(augment_dataset(root, store_path, [kind], AugmentOptions(copies=copies), workers=args.workers,
                                            chunk_size=chunk_size, progress=False)[0])
                cpus.append(cpu_seconds() - cpu)
            # time = fixed + rows × per-row: two runs of different sizes separate the two
            extra_rows = runs[1].added - runs[0].added
            per_row = (runs[1].seconds - runs[0].seconds) / extra_rows
            fixed = max(runs[0].seconds - runs[0].added * per_row, 0.0)
            cpu_per_row = (cpus[1] - cpus[0]) / extra_rows
            cpu_fixed = max(cpus[0] - runs[0].added * cpu_per_row, 0.0)
            full = FULL_DEVICE_A if kind in ("spectrum-correction", "reverb-drc") else FULL_TRAIN
            hours = ((fixed + full * per_row) / 3600, (cpu_fixed + full * cpu_per_row) / args.workers / 3600)
            totals = [t + h for t, h in zip(totals, hours)]
            print(f"  {kind:<20} {runs[0].added:>5} {runs[0].clips_per_second:8.2f} {runs[1].added:>5} "
                  f"{runs[1].clips_per_second:8.2f} {fixed:8.1f} {1 / per_row:8.2f} {1000 * cpu_per_row:7.1f} "
                  f"{hours[0]:7.2f} {hours[1]:6.2f}")
        if "spectrum-correction" in kinds:
            pairs = coefficients["pairs"]
            hours = (FULL_PAIRS * pass_wall / pairs / 3600, FULL_PAIRS * pass_cpu / pairs / args.workers / 3600)
            totals = [t + h for t, h in zip(totals, hours)]
            print(f"  {'coefficient pairs':<20} {pairs:>5} {pairs / pass_wall:8.2f} {'':>5} {'':>8} {'':>8} {'':>8} "
                  f"{1000 * pass_cpu / pairs:7.1f} {hours[0]:7.2f} {hours[1]:6.2f}")
        for name, total in zip(("wall clock", f"CPU time / {args.workers}"), totals):
            verdict = "within" if total <= TARGET_HOURS else "OVER"
            print(f"projected full 1a training set from {name}: {total:.2f} h ({verdict} the {TARGET_HOURS:g} h target)")


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (pool workers, once the pool is shut down)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system

if __name__ == "__main__":
    main()
