"""Ask the package index whether every pin of requirements.txt has a wheel for each supported Python and platform.

    python tools/check_wheels.py                      # the whole matrix (SUPPORTED_PYTHONS x PLATFORMS)
    python tools/check_wheels.py --python 3.10        # one Python version, every platform
    python tools/check_wheels.py --pip                # ask pip itself for every cell (slower, same answer)
    python tools/check_wheels.py --json               # the answer as JSON (tests/test_platforms.py reads it)

The README promises that the course installs on these Pythons and platforms; this is how that promise stays
true when a pin changes. Only wheels count (``--only-binary=:all:``: nothing to compile on a learner's laptop):
a pin passes for a Python version and a platform if one of its wheels carries a tag that pip accepts there —
a compiled wheel for that CPython and platform, an ``abi3`` wheel, or a pure-Python ``py3-none-any`` wheel —
and its ``Requires-Python`` admits the version; yanked files do not count.

By default the answer comes from the real index's JSON API (https://pypi.org/simple, PEP 691: one request
per pin, then the tags are compared with ``packaging.tags``, the code pip uses). ``--pip`` asks pip for each
cell instead, with every local pip setting that would change the answer switched off (configuration files,
constraints, find-links, extra indexes):

    pip install --dry-run --ignore-installed --no-deps --only-binary=:all: \\
        --python-version X --platform P [--platform P2 ...] --index-url https://pypi.org/simple PINS...

pip reads the wheels' metadata files (PEP 658), so nothing large is downloaded. Dependencies of the pins are not
checked (``--no-deps``): pip evaluates their environment markers for the machine it runs on, not for the target
platform, so only an install on the platform itself resolves them. Exit status: 0 all good, 1 some pin lacks a
wheel, 2 the index cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
INDEX = "https://pypi.org/simple"
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
# glibc 2.28 or newer (Debian 10, Ubuntu 20.04, RHEL 8 and later): pip takes wheels for any of these tags
_MANYLINUX = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)] + [
    "manylinux2014_x86_64", "manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]
PLATFORMS = {
    "Linux x86-64 (glibc 2.28+)": _MANYLINUX,
    "macOS 14+ on Apple silicon (arm64)": ["macosx_14_0_arm64"],  # pip adds the older macOS versions itself
    "Windows x86-64": ["win_amd64"],
}
# pip settings that change which index or files it looks at; the rest (certificates, proxy, timeout) stay
_KEEP_PIP_ENV = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_PROXY", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES"}


def platform_tags(platform: str) -> list[str]:
    """The ``--platform`` tags of a named platform of :data:`PLATFORMS`, or of ``"tag1,tag2,..."``."""
    return PLATFORMS[platform] if platform in PLATFORMS else [t.strip() for t in platform.split(",") if t.strip()]


def pins(path: Path = REQUIREMENTS) -> list[str]:
    """The ``name==version`` lines of a requirements file."""
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            if "==" not in line:
                raise ValueError(f"{path.name}: {line!r} is not pinned with ==")
            out.append(line)
    return out


def clean_env() -> dict:
    """The environment for pip: no local index settings, no configuration files, no offline test guard."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in _KEEP_PIP_ENV}
    env.pop("PYTHONPATH", None)  # the test suite's offline guard (tests/netblock) travels in PYTHONPATH
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def index_reachable(timeout: float = 15) -> str | None:
    """``None`` if the index answers, else why not (run in a clean process: the test guard blocks sockets)."""
    code = ("import os, ssl, urllib.request; "
            "ctx = ssl.create_default_context(cafile=os.environ.get('PIP_CERT') or None); "
            f"urllib.request.urlopen({INDEX + '/pip/'!r}, timeout={timeout}, context=ctx).read(1)")
    try:
        result = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True,
                                timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        return f"{INDEX} did not answer within {timeout:.0f} s"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"{INDEX} cannot be reached: {last}"
    return None


def _fetch_json(name: str, timeout: float = 60) -> dict:
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    request = urllib.request.Request(f"{INDEX}/{_canonical(name)}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=timeout, context=ctx) as response:
        return json.load(response)


def _canonical(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def index_files(requirements: list[str]) -> dict[str, list[dict]]:
    """``{pin: [{filename, requires-python, yanked}, ...]}``: the wheels of each pinned version, from the index."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    from packaging.version import Version

    def wheels(pin):
        name, version = pin.split("==")
        files = []
        for f in _fetch_json(name)["files"]:
            if not f["filename"].endswith(".whl"):
                continue
            try:
                _, v, _, _ = parse_wheel_filename(f["filename"])
            except InvalidWheelFilename:
                continue
            if v == Version(version):
                files.append(f)
        return pin, files

    with ThreadPoolExecutor(max_workers=6) as pool:
        return dict(pool.map(wheels, requirements))


def supported_tags(python: str, platform: str) -> list:
    """The wheel tags pip accepts for CPython ``python`` on ``platform`` (as ``--python-version``/``--platform``)."""
    from packaging import tags

    version = tuple(int(x) for x in python.split("."))
    platforms = []
    for tag in platform_tags(platform):
        if tag.startswith("macosx_"):
            _, major, minor, arch = tag.split("_", 3)
            platforms += list(tags.mac_platforms((int(major), int(minor)), arch))
        else:
            platforms.append(tag)
    interpreter = f"cp{version[0]}{version[1]}"
    return [*tags.cpython_tags(version, abis=[interpreter], platforms=platforms),
            *tags.compatible_tags(version, interpreter=interpreter, platforms=platforms)]


def missing_wheels(python: str, platform: str, files: dict[str, list[dict]]) -> dict[str, str]:
    """``{pin: why}`` for every pin with no usable wheel for this Python and platform (empty: all good)."""
    from packaging.specifiers import SpecifierSet
    from packaging.utils import parse_wheel_filename

    accepted = set(supported_tags(python, platform))
    missing = {}
    for pin, wheels in files.items():
        fits = [f for f in wheels if not f.get("yanked")
                and python in SpecifierSet(f.get("requires-python") or "", prereleases=True)
                and accepted & set(parse_wheel_filename(f["filename"])[3])]
        if not fits:
            needs = sorted({f.get("requires-python") or "any" for f in wheels})
            missing[pin] = (f"no wheel among {len(wheels)} (Requires-Python: {', '.join(needs)})" if wheels
                            else "no wheel at all on the index")
    return missing


@dataclass
class Result:
    python: str
    platform: str
    ok: bool
    wheels: dict = field(default_factory=dict)  # pin name -> wheel file name pip chose
    error: str = ""


def check(python: str, platform: str, requirements: list[str] | None = None, cache_dir: str | None = None,
          timeout: float = 240) -> Result:
    """Ask pip whether every pin has a wheel for this Python version and platform."""
    requirements = pins() if requirements is None else requirements
    with tempfile.TemporaryDirectory(prefix="reglib-wheels-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
               "--only-binary=:all:", "--python-version", python, "--index-url", INDEX, "--quiet",
               "--target", str(Path(tmp) / "target"), "--report", str(report),
               *[a for tag in platform_tags(platform) for a in ("--platform", tag)],
               *(["--cache-dir", cache_dir] if cache_dir else ["--no-cache-dir"]), *requirements]
        try:
            proc = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Result(python, platform, False, error=f"pip took longer than {timeout:.0f} s")
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or proc.stderr.splitlines()[-3:]
            return Result(python, platform, False, error=" ".join(lines)[:600])
        data = json.loads(report.read_text())
    wheels = {item["metadata"]["name"].lower().replace("_", "-"): item["download_info"]["url"].rsplit("/", 1)[-1]
              for item in data["install"]}
    return Result(python, platform, True, wheels)


def matrix(pythons=SUPPORTED_PYTHONS, platforms=tuple(PLATFORMS), use_pip: bool = False,
           workers: int = 3) -> list[Result]:
    """Every (Python, platform) pair: from the index's JSON API, or (``use_pip``) by asking pip for each."""
    requirements = pins()
    jobs = [(py, plat) for py in pythons for plat in platforms]
    if not use_pip:
        files = index_files(requirements)
        return [Result(py, plat, not (m := missing_wheels(py, plat, files)),
                       error="; ".join(f"{pin}: {why}" for pin, why in m.items())) for py, plat in jobs]
    with tempfile.TemporaryDirectory(prefix="reglib-pip-cache-") as cache:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda job: check(*job, requirements, cache), jobs))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="a Python version (default: the supported ones)")
    parser.add_argument("--platform", action="append", choices=list(PLATFORMS), help="default: all three")
    parser.add_argument("--tags", action="append", default=[],
                        help="also a platform given by its wheel tags, comma-separated (e.g. macosx_13_0_arm64)")
    parser.add_argument("--pip", action="store_true", help="ask pip for each cell instead of the JSON API")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    reason = index_reachable()
    if reason:
        print(json.dumps({"unreachable": reason}) if args.json else reason, file=sys.stdout if args.json else sys.stderr)
        return 2
    platforms = (*(args.platform or ([] if args.tags else PLATFORMS)), *args.tags)
    results = matrix(tuple(args.python or SUPPORTED_PYTHONS), tuple(platforms), use_pip=args.pip)
    if args.json:
        print(json.dumps([r.__dict__ for r in results]))
    else:
        for r in results:
            print(f"Python {r.python}, {r.platform}: " + ("every pin has a wheel" if r.ok else f"NO — {r.error}"))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
