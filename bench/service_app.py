"""A Flask service for tools/bench and the gunicorn test, run by gunicorn's workers:

    gunicorn --workers 2 --chdir bench service_app:app

/churn answers like a busy JSON/XML service: documents built, serialized and parsed, nothing kept.
/leak keeps LEAK_BYTES more in a module list each request: the bytes the report must name.
"""
import json
import xml.etree.ElementTree as ElementTree

from flask import Flask

LEAK_BYTES = 256 * 1024
DOCUMENT = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(50)]}

app = Flask(__name__)
kept = []


@app.route("/churn")
def churn():
    root = ElementTree.Element("items")
    for item in DOCUMENT["items"]:
        ElementTree.SubElement(root, "item", id=str(item["id"])).text = item["name"]
    parsed = ElementTree.fromstring(ElementTree.tostring(root))
    decoded = json.loads(json.dumps(DOCUMENT))
    return {"items": len(parsed), "decoded": len(decoded["items"])}


def leak_cache():
    # b"x" * n writes every byte, so every page of the block is faulted in here
    kept.append(b"x" * LEAK_BYTES)


@app.route("/leak")
def leak():
    leak_cache()
    return {"kept": len(kept)}
