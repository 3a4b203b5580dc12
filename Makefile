# wsi-pipeline. `make demo` and `make test` install what they need on a fresh machine.
SHELL := /bin/bash
# onnxruntime-node's installer would fetch the CUDA provider from outside the npm registry: skip it (CPU build is bundled).
export ONNXRUNTIME_NODE_INSTALL := skip
export npm_config_fund := false
export npm_config_audit := false

DEMO_OUT ?= out/demo
APT_PACKAGES := openslide-tools python3-openslide libvips-tools python3-skimage python3-scipy chromium \
  redis-server orthanc orthanc-dicomweb orthanc-wsi python3-pydicom python3-pil python3-shapely
# References the benchmarks compare against: PyTorch CPU, OpenSlide's Deep Zoom example server.
BENCH_APT_PACKAGES := python3-torch python3-flask python-openslide-examples

.PHONY: setup runtime-deps build test test-deps bench-deps lint typecheck unit demo bench clean

setup: node_modules/.installed runtime-deps build

# The CLI and worker tasks compiled to JavaScript in dist/, so `wsi` starts without transpiling TypeScript
# (skipped when up to date). bin/wsi.js runs the sources through tsx whenever a source is newer than dist/.
build: node_modules/.installed
	@npx tsx scripts/build.ts --if-stale

# libjpeg-turbo's TurboJPEG library: the reader decodes JPEG tiles through it (about 3x less CPU than
# through sharp); without it the reader falls back to sharp with identical pixels, so a failed install only warns.
runtime-deps:
	@if ! ldconfig -p 2>/dev/null | grep -q libturbojpeg.so.0; then \
	  echo "installing libturbojpeg0 from Debian (fast JPEG tile decoding)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libturbojpeg0 >/dev/null) \
	    || echo "warning: could not install libturbojpeg0; JPEG tiles will be decoded by sharp (slower)"; \
	fi

# `npm ci` refuses a lock file that lacks optional platform packages (rollup's darwin/win32 builds) which the
# registry mirror here does not carry; `npm install --no-save` then installs the same locked versions.
node_modules/.installed: package.json package-lock.json
	@# A linked node_modules is an install shared between git worktrees: npm ci would empty it for all of them.
	@if [ -L node_modules ]; then echo "node_modules is a shared link: install in the worktree it points to"; exit 0; fi; \
	npm ci --no-audit --no-fund 2>.npm-ci.log || { \
	  echo "npm ci refused the lock file (see .npm-ci.log); installing the locked versions with npm install"; \
	  npm install --no-save --no-audit --no-fund; }
	@touch $@

# Oracles, servers and browsers used by tests: OpenSlide (pixel oracle), libvips, scikit-image, pydicom, shapely,
# Chromium (end-to-end), Redis (the queue), Orthanc with DICOMweb and its WSI dicomizer (DICOM slides).
# Debian's python3 is /usr/bin/python3 (python3 on PATH may be another interpreter without these modules).
test-deps:
	@if ! /usr/bin/python3 -c 'import openslide, skimage, scipy, pydicom, shapely' 2>/dev/null || ! command -v vips >/dev/null \
	    || ! test -x /usr/bin/chromium || ! command -v redis-server >/dev/null || ! test -x /usr/sbin/Orthanc \
	    || ! command -v OrthancWSIDicomizer >/dev/null || ! test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so; then \
	  echo "installing test dependencies from Debian: $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

bench-deps: test-deps
	@if ! /usr/bin/python3 -c 'import torch, flask' 2>/dev/null || ! test -e /usr/share/doc/python-openslide-examples; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_APT_PACKAGES) >/dev/null; \
	fi

lint: setup
	npx biome check .

typecheck: setup
	npx tsc --noEmit -p tsconfig.json

unit: setup
	npx vitest run

test: setup test-deps lint typecheck unit

demo: setup
	bash fixtures/demo.sh $(DEMO_OUT)

bench: setup bench-deps
	for b in bench/*.ts; do npx tsx $$b || exit 1; done

clean:
	rm -rf out dist node_modules
