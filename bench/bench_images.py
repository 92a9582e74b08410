"""Benchmark: the images as built here, and what running a task in them costs.

Measured in one run, against baselines measured in the same run:

* size of each image, of its base, and of the Python packages it installs (everything in
  the folder pip installed the lock into); ``overhead`` is (image - base) / packages, the
  share of the added layers that is not the packages themselves (build caches, duplicated
  layers, apt leftovers); the goal is at most 15 %;
* each image's layers (``podman history``): what every Dockerfile step adds;
* a warm rebuild (nothing changed: podman's layer cache) and, with ``--cold``, a cold build
  (our images, the stand-in base and the build cache removed first; wheels downloaded again);
* the start overhead per task: a trivial component and the ingest component on the bundled
  penguins data, each run ``--repeat`` times by kfp.local's subprocess runner (this
  interpreter) and by its docker runner (the image its spec names, through podman's Docker
  API); the API's own start-up is reported apart.

    python bench/bench_images.py                 # warm rebuild, sizes, task overhead
    python bench/bench_images.py --cold          # also a cold build (minutes; ~1.5 GB)
    python bench/bench_images.py --json out.json
"""
import argparse
import json
import logging
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PENGUINS = str(ROOT / "pipelines" / "data" / "penguins.csv")

# The size of the folder pip installed the lock into, measured inside the image.
_PACKAGES_SIZE = r"""
import importlib.metadata as md, json, os
folder = os.path.dirname(str(md.distribution("kfp").locate_file("kfp")))
total = 0
for base, _, files in os.walk(folder):
    for name in files:
        path = os.path.join(base, name)
        if not os.path.islink(path):
            total += os.lstat(path).st_size
print(json.dumps({"folder": folder, "bytes": total}))
"""


def _mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


def _engine_out(engine: str, *args: str) -> str:
    return subprocess.run([engine, *args], capture_output=True, text=True, check=True).stdout


def _local_images():
    """images/tools/local_images.py: the image tools live outside the package."""
    tools = str(ROOT / "images" / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import local_images

    return local_images


def sizes(engine: str) -> dict:
    from kfp_mlops import images

    containers = _local_images()

    found = {}
    for name, dockerfile in containers.image_folders().items():
        uri = images.uri(name)
        base = containers.base_image(dockerfile)
        if not containers.image_exists(engine, base):
            base = containers.standin_name(base)
        image_bytes = containers.image_size(engine, uri)
        base_bytes = containers.image_size(engine, base)
        probe = json.loads(_engine_out(engine, "run", "--rm", "--network", "host", uri,
                                       "python", "-c", _PACKAGES_SIZE).strip().splitlines()[-1])
        layers = []
        for line in _engine_out(engine, "history", "--no-trunc", "--format",
                                "{{.Size}}\t{{.CreatedBy}}", uri).splitlines():
            size, _, step = line.partition("\t")
            step = step.replace("/bin/sh -c ", "").replace("#(nop) ", "").strip()
            layers.append((size, step[:110]))
        added = image_bytes - base_bytes
        found[name] = {"uri": uri, "image_bytes": image_bytes, "base": base,
                       "base_bytes": base_bytes, "packages_bytes": probe["bytes"],
                       "packages_folder": probe["folder"],
                       "overhead": round(added / probe["bytes"] - 1, 4), "layers": layers}
    return found


def builds(cold: bool) -> dict:
    from kfp_mlops import images

    containers = _local_images()

    timings = {}
    engine = containers.choose_engine()
    if cold:
        if engine != "podman":
            raise SystemExit("--cold is measured with podman only")
        for name in images.IMAGES:
            subprocess.run(["podman", "rmi", "--force", images.uri(name)],
                           capture_output=True)
        for dockerfile in containers.image_folders().values():
            subprocess.run(["podman", "rmi", "--force", containers.standin_name(
                containers.base_image(dockerfile))], capture_output=True)
        subprocess.run(["podman", "image", "prune", "--force"], capture_output=True)
        started = time.monotonic()
        results = containers.build_images(engine)
        timings["cold_seconds"] = round(time.monotonic() - started, 1)
        timings["cold_per_image"] = {r.image: r.seconds for r in results}
    started = time.monotonic()
    results = containers.build_images(engine)
    timings["warm_seconds"] = round(time.monotonic() - started, 1)
    timings["warm_per_image"] = {r.image: r.seconds for r in results}
    timings["engine"] = engine
    return timings


def _pipelines():
    from kfp import dsl

    from kfp_mlops import images
    from kfp_mlops.components.ingest.component import ingest

    @dsl.component(base_image=images.uri(images.PYTHON), install_kfp_package=False)
    def noop(x: int) -> int:
        """Does nothing: what starting a task costs."""
        return x + 1

    @dsl.pipeline(name="bench-noop")
    def noop_pipeline(x: int = 1):
        noop(x=x)

    @dsl.pipeline(name="bench-ingest")
    def ingest_pipeline(data_uri: str):
        ingest(data_uri=data_uri, label_column="species")

    return {"noop": (noop_pipeline, {"x": 1}), "ingest": (ingest_pipeline,
                                                          {"data_uri": PENGUINS})}


def task_overhead(repeat: int) -> dict:
    from kfp import local

    from kfp_mlops.pipelines import docker_runner

    local_images = _local_images()
    found = {}
    pipelines = _pipelines()
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        for runner in ("subprocess", "docker"):
            root = os.path.join(tmp, runner)
            os.makedirs(root)
            local.init(runner=local.SubprocessRunner(use_venv=False) if runner == "subprocess"
                       else local.DockerRunner(), pipeline_root=root, raise_on_error=True)
            for task, (pipeline, params) in pipelines.items():
                times = []
                started = time.monotonic()
                if runner == "docker":
                    with local_images.docker_api(), \
                            docker_runner.docker_session(params, root) as mapped:
                        found["docker_api_start_seconds"] = round(time.monotonic() - started, 2)
                        for _ in range(repeat):
                            t = time.monotonic()
                            pipeline(**mapped)
                            times.append(time.monotonic() - t)
                else:
                    for _ in range(repeat):
                        t = time.monotonic()
                        pipeline(**params)
                        times.append(time.monotonic() - t)
                found[f"{task}_{runner}_seconds"] = round(statistics.median(times), 2)
        for task in pipelines:
            sub, dock = found[f"{task}_subprocess_seconds"], found[f"{task}_docker_seconds"]
            found[f"{task}_docker_extra_seconds"] = round(dock - sub, 2)
            found[f"{task}_docker_ratio"] = round(dock / sub, 2)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="also measure a cold build")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each task per runner")
    parser.add_argument("--json", default=None, help="write the numbers to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    report = {"builds": builds(args.cold)}
    report["sizes"] = sizes(report["builds"]["engine"])
    _report_images(report)
    report["tasks"] = task_overhead(args.repeat)
    _report_tasks(report, args.repeat)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def _report_images(report: dict) -> None:
    print("\nImage sizes (goal: slim < 600 MB; added layers within 15 % of the packages)")
    for name, s in report["sizes"].items():
        print(f"  {name:<24} {_mb(s['image_bytes']):>9}  base {_mb(s['base_bytes']):>7}  "
              f"packages {_mb(s['packages_bytes']):>9}  overhead {s['overhead']:+.1%}")
        for size, step in s["layers"]:
            print(f"      {size:>9}  {step}")
    b = report["builds"]
    print(f"\nBuilds ({b['engine']}; goal: warm < 30 s)")
    if "cold_seconds" in b:
        print(f"  cold  {b['cold_seconds']:7.1f} s  {b['cold_per_image']}")
    print(f"  warm  {b['warm_seconds']:7.1f} s  {b['warm_per_image']}", flush=True)


def _report_tasks(report: dict, repeat: int) -> None:
    t = report["tasks"]
    print(f"\nPer task, median of {repeat} (docker API start-up "
          f"{t['docker_api_start_seconds']:.1f} s, once per run)")
    for task in ("noop", "ingest"):
        print(f"  {task:<7} subprocess {t[f'{task}_subprocess_seconds']:6.2f} s   docker "
              f"{t[f'{task}_docker_seconds']:6.2f} s   +{t[f'{task}_docker_extra_seconds']:.2f} s"
              f"  ({t[f'{task}_docker_ratio']:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
