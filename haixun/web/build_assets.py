"""Install-time build of the pages' third-party assets (docs/web.md).

    python -m haixun.web.build_assets          # npm ci + copy + font subset
    python -m haixun.web.build_assets --check  # exit 1 if the assets are missing

Nothing third-party is committed. The versions are pinned in
``haixun/web/npm/package.json`` and its lock file; ``npm ci`` fetches them from
the npm registry into ``build/web-npm/`` and this script copies what the pages
load, with each package's licence, into ``haixun/web/static/vendor/``
(gitignored), which the API serves under ``/static/vendor/``:

* Leaflet (map), uPlot (charts), Swagger UI (``/docs`` without a CDN);
* a subset of Noto Sans SC (SIL OFL 1.1, from ``@fontsource/noto-sans-sc``)
  made with fontTools: every CJK character in the package's own files (page
  text, advice, geography names) plus GB 2312 level 1 (the 3,755 most common
  characters, for names and bulletin text that arrive later), regular and bold.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

WEB = Path(__file__).resolve().parent
PKG = WEB.parent
ROOT = PKG.parent
NPM_SPEC = WEB / "npm"
VENDOR = WEB / "static" / "vendor"

# (package, file in the package, path under vendor/)
COPIES: list[tuple[str, str, str]] = [
    ("leaflet", "dist/leaflet-src.esm.js", "leaflet/leaflet-src.esm.js"),
    ("leaflet", "dist/leaflet.css", "leaflet/leaflet.css"),
    ("leaflet", "LICENSE", "leaflet/LICENSE"),
    ("uplot", "dist/uPlot.esm.js", "uplot/uPlot.esm.js"),
    ("uplot", "dist/uPlot.min.css", "uplot/uPlot.min.css"),
    ("uplot", "LICENSE", "uplot/LICENSE"),
    ("swagger-ui-dist", "swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"),
    ("swagger-ui-dist", "swagger-ui.css", "swagger-ui/swagger-ui.css"),
    ("swagger-ui-dist", "favicon-32x32.png", "swagger-ui/favicon-32x32.png"),
    ("swagger-ui-dist", "LICENSE", "swagger-ui/LICENSE"),
    ("swagger-ui-dist", "NOTICE", "swagger-ui/NOTICE"),
    ("@fontsource/noto-sans-sc", "LICENSE", "fonts/OFL.txt"),
]
FONT_FAMILY = "Haixun Noto Sans SC"
FONT_WEIGHTS = (400, 700)
# The files the pages must find (the --check list and what the tests rely on).
REQUIRED = [dst for _, _, dst in COPIES] + ["fonts/noto-sans-sc.css", "manifest.json"] + [
    f"fonts/noto-sans-sc-subset-{w}.woff2" for w in FONT_WEIGHTS]

CJK = re.compile(r"[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
TEXT_SUFFIXES = {".py", ".toml", ".json", ".geojson", ".html", ".js", ".csv", ".xml"}


def gb2312_level1() -> set[str]:
    """GB 2312 level-1 hanzi (rows 16-55): the 3,755 most frequent characters."""
    out: set[str] = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                out.add(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def glyphs_used() -> set[str]:
    chars: set[str] = set()
    for path in PKG.rglob("*"):
        if path.suffix in TEXT_SUFFIXES and "vendor" not in path.parts and "node_modules" not in path.parts \
                and path.is_file():
            chars.update(CJK.findall(path.read_text(encoding="utf-8", errors="ignore")))
    chars |= gb2312_level1()
    chars |= set("，。、；：？！“”‘’（）《》【】…—·〜～％")
    return chars


def npm_ci(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(NPM_SPEC / name, work / name)
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to install the web assets (Debian: apt-get install npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], cwd=work,
                   check=True)
    return work / "node_modules"


def subset_font(src: Path, dst: Path, chars: set[str]) -> int:
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(src), options)
    sub = subset.Subsetter(options)
    sub.populate(text="".join(sorted(chars)))
    sub.subset(font)
    subset.save_font(font, str(dst), options)
    return len(font.getGlyphOrder())


def unicode_range(chars: set[str]) -> str:
    cps = sorted(ord(c) for c in chars)
    runs: list[tuple[int, int]] = []
    for cp in cps:
        if runs and cp == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], cp)
        else:
            runs.append((cp, cp))
    return ",".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in runs)


def build(work: Path) -> dict:
    modules = npm_ci(work)
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    (VENDOR / "fonts").mkdir(parents=True)
    for pkg, src, dst in COPIES:
        out = VENDOR / dst
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(modules / pkg / src, out)
    leaflet_img = modules / "leaflet" / "dist" / "images"
    shutil.copytree(leaflet_img, VENDOR / "leaflet" / "images")

    chars = glyphs_used()
    fs = modules / "@fontsource" / "noto-sans-sc" / "files"
    faces = []
    glyph_counts = {}
    for w in FONT_WEIGHTS:
        font_dst = VENDOR / "fonts" / f"noto-sans-sc-subset-{w}.woff2"
        glyph_counts[w] = subset_font(fs / f"noto-sans-sc-chinese-simplified-{w}-normal.woff2", font_dst, chars)
        faces.append(
            "@font-face {\n"
            f"  font-family: '{FONT_FAMILY}';\n  font-style: normal;\n  font-weight: {w};\n  font-display: swap;\n"
            f"  src: url(./noto-sans-sc-subset-{w}.woff2) format('woff2');\n"
            f"  unicode-range: {unicode_range(chars)};\n}}\n")
    (VENDOR / "fonts" / "noto-sans-sc.css").write_text(
        "/* Noto Sans SC (SIL Open Font License 1.1, OFL.txt), subset by haixun.web.build_assets */\n"
        + "\n".join(faces), encoding="utf-8")

    versions = {}
    for pkg in sorted({p for p, _, _ in COPIES}):
        meta = json.loads((modules / pkg / "package.json").read_text(encoding="utf-8"))
        versions[pkg] = {"version": meta.get("version"), "license": meta.get("license")}
    manifest = {"packages": versions, "font": {"family": FONT_FAMILY, "characters": len(chars),
                                                "glyphs": glyph_counts}}
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return manifest


def missing() -> list[str]:
    return [p for p in REQUIRED if not (VENDOR / p).is_file()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m haixun.web.build_assets", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only check that the assets are there")
    ap.add_argument("--if-missing", action="store_true", help="build only if some asset is missing")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("HAIXUN_WEB_BUILD", ROOT / "build" / "web-npm")),
                    help="npm working folder (default build/web-npm)")
    a = ap.parse_args(argv)
    gone = missing()
    if a.check:
        if gone:
            print("missing web assets (run python -m haixun.web.build_assets): " + ", ".join(gone), file=sys.stderr)
            return 1
        return 0
    if a.if_missing and not gone:
        return 0
    manifest = build(a.work)
    print(json.dumps(manifest, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
