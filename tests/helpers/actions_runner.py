"""Enough of GitHub's runner to run a workflow's steps here, in a real git clone: each step's
``if``, its ``env`` and ``with`` (the ``${{ }}`` expressions, evaluated against an event payload),
its ``run:`` script under bash as GitHub runs it (``bash --noprofile --norc -eo pipefail``), step
outputs through ``$GITHUB_OUTPUT``, and this repository's composite action (``action.yml``), whose
own ``run:`` steps run the same way. ``actions/checkout`` is the clone the test made; the action's
install step is the ``mlmeta`` on PATH; ``actions/setup-python`` and ``actions/github-script``
(JavaScript) are not run, and the result says which steps were left out."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.files import REPO

NOT_RUN_HERE = ("actions/setup-python", "actions/github-script")
TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||[!()])|(?P<name>[A-Za-z_][\w.\-]*))")


# --- expressions ------------------------------------------------------------------------------------


class Expression:
    """``a.b.c``, ``'text'``, ``==``, ``!=``, ``&&``, ``||``, ``!``, parentheses and the status
    functions: the part of GitHub's expression language the workflows here use. Comparisons of
    strings ignore case, and ``&&``/``||`` give an operand, as GitHub's do."""

    def __init__(self, text: str, context: dict[str, Any], status: dict[str, bool]) -> None:
        self.tokens = self._tokenize(text)
        self.context = context
        self.status = status
        self.at = 0

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens, at = [], 0
        while text[at:].strip():
            match = TOKEN.match(text, at)
            if not match:
                raise ValueError(f"not understood here: {text[at:]!r}")
            kind = match.lastgroup
            tokens.append((kind, match.group(kind)))
            at = match.end()
        return tokens

    def value(self) -> Any:
        result = self._or()
        if self.at != len(self.tokens):
            raise ValueError(f"left over: {self.tokens[self.at:]}")
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        self.at += 1
        return self.tokens[self.at - 1]

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._compare()
            left = right if truthy(left) else left
        return left

    def _compare(self) -> Any:
        left = self._unary()
        while self._peek() in ("==", "!="):
            op = self._take()[1]
            same = str(left).lower() == str(self._unary()).lower()
            left = same if op == "==" else not same
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        if self._peek() == "(":
            self._take()
            inner = self._or()
            self._take()
            return inner
        kind, text = self._take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if self._peek() == "(":  # a status function
            self._take()
            self._take()
            return self.status[text]
        if text in ("true", "false"):
            return text == "true"
        found: Any = self.context
        for part in text.split("."):
            found = found.get(part, "") if isinstance(found, dict) else ""
        return found


def truthy(value: Any) -> bool:
    return value not in ("", False, None, 0)


def as_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def substitute(text: str, context: dict[str, Any], status: dict[str, bool]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: as_text(Expression(m.group(1), context, status).value()), text)


def condition(text: str | None, context: dict[str, Any], status: dict[str, bool]) -> bool:
    """A step's ``if``: GitHub adds ``success() &&`` unless it names a status function itself."""
    text = (text or "").strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not re.search(r"\b(always|success|failure|cancelled)\(\)", text):
        text = f"success() && ({text or 'true'})"
    return truthy(Expression(text, context, status).value())


# --- running ----------------------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    outcome: str  # success, failure, skipped, or "not run here"
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobRun:
    steps: list[Step] = field(default_factory=list)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    @property
    def failed(self) -> bool:
        return any(s.outcome == "failure" for s in self.steps)


class Runner:
    """Runs one job of a workflow in ``workspace`` (a git clone) for one event."""

    def __init__(self, workspace: Path, bin_dir: Path, scratch: Path, env: dict[str, str] | None = None) -> None:
        self.workspace = workspace
        self.bin_dir = bin_dir
        self.scratch = scratch
        self.env = env or {}

    def run_job(self, workflow: Path, job: str, event_name: str, payload: dict[str, Any],
                **contexts: dict[str, Any]) -> JobRun:
        document = yaml.safe_load(workflow.read_text())
        github = {"event_name": event_name, "event": payload, "action_path": str(REPO), "action_ref": "",
                  "base_ref": payload.get("pull_request", {}).get("base", {}).get("ref", "")}
        context = {"github": github, "vars": {}, "secrets": {}, "inputs": {}, "steps": {}, **contexts}
        spec = document["jobs"][job]
        run = JobRun()
        job_env = {k: substitute(str(v), context, self._status(run)) for k, v in (spec.get("env") or {}).items()}
        for number, step in enumerate(spec["steps"]):
            result = self._step(step, context, run, job_env, number)
            run.steps.append(result)
            if step.get("id"):
                context["steps"][step["id"]] = {"outcome": result.outcome, "conclusion": result.outcome,
                                                "outputs": result.outputs}
        return run

    @staticmethod
    def _status(run: JobRun) -> dict[str, bool]:
        return {"always": True, "cancelled": False, "success": not run.failed, "failure": run.failed}

    def _step(self, step: dict[str, Any], context: dict[str, Any], run: JobRun, job_env: dict[str, str],
              number: int) -> Step:
        name = step.get("name") or step.get("uses") or f"step {number}"
        status = self._status(run)
        if not condition(step.get("if"), context, status):
            return Step(name, "skipped")
        env = {**job_env, **{k: substitute(str(v), context, status) for k, v in (step.get("env") or {}).items()}}
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout"):
            return Step(name, "success")  # the test's clone
        if uses.startswith(NOT_RUN_HERE):
            return Step(name, "not run here")
        if uses.startswith("your-org/mlmeta"):
            inputs = {k: substitute(str(v), context, status) for k, v in (step.get("with") or {}).items()}
            return self._action(name, inputs, context, env)
        return self._script(name, step["run"], env)

    def _action(self, name: str, given: dict[str, str], context: dict[str, Any], env: dict[str, str]) -> Step:
        """This repository's composite action: its inputs' defaults, its run steps (not the install:
        the mlmeta on PATH is the one under test), its outputs."""
        action = yaml.safe_load((REPO / "action.yml").read_text())
        inputs = {key: given.get(key, str(spec.get("default", ""))) for key, spec in action["inputs"].items()}
        inner = {**context, "inputs": inputs, "steps": {}}
        last = Step(name, "success")
        for step in action["runs"]["steps"]:
            if "run" not in step or step.get("name") == "Install mlmeta":
                continue
            step_env = {**env, **{k: substitute(str(v), inner, {}) for k, v in (step.get("env") or {}).items()}}
            last = self._script(name, step["run"], step_env)
            if step.get("id"):
                inner["steps"][step["id"]] = {"outputs": last.outputs}
            if last.outcome == "failure":
                break
        outputs = {key: substitute(str(spec["value"]), inner, {}) for key, spec in action["outputs"].items()}
        return Step(name, last.outcome, outputs, last.stdout, last.stderr)

    def _script(self, name: str, script: str, env: dict[str, str]) -> Step:
        output = self.scratch / f"output-{uuid.uuid4().hex[:8]}"
        output.touch()
        full = {"PATH": f"{self.bin_dir}:{os.environ['PATH']}", "HOME": str(self.scratch),
                "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.scratch / "summary.md"),
                "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace), **self.env, **env}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=self.workspace,
                              env=full, capture_output=True, text=True, timeout=300)
        return Step(name, "success" if done.returncode == 0 else "failure", read_outputs(output),
                    done.stdout, done.stderr)


def read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as GitHub reads $GITHUB_OUTPUT."""
    outputs, lines = {}, path.read_text().splitlines()
    at = 0
    while at < len(lines):
        line = lines[at]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, at + 1)
            outputs[key] = "\n".join(lines[at + 1:end])
            at = end + 1
            continue
        key, _, value = line.partition("=")
        outputs[key] = value
        at += 1
    return outputs
