"""A promotion event as the sinks receive it."""

from __future__ import annotations

from mlmeta.events import PromotionEvent

VERSION = {"name": "churn", "version": "3", "creation_timestamp": 1700000000000,
           "last_updated_timestamp": 1700000100000, "user_id": "ana", "current_stage": "None",
           "description": "", "source": "models:/m-abc", "run_id": "r1", "status": "READY", "status_message": "",
           "tags": [{"key": "team", "value": "eta"}], "run_link": "", "aliases": ["champion"]}


def event(name: str = "churn", version: str = "3", generation: str = "1") -> PromotionEvent:
    return PromotionEvent(name, version, "alias", "champion", {**VERSION, "name": name, "version": version},
                          generation, source="http://mlflow:5000")
