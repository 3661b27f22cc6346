#!/usr/bin/env python3
"""strata analyse's figures, computed independently (issue #25): each layer
blob (gzip or plain tar) read with Python's tarfile, the OCI changeset rules
applied to a dict of paths (no symlinked parents: the tests' images have
none), every file's bytes followed to the end: kept in the merged view, or
wasted where a later entry replaced or removed them (a hardlinked file only
when its last name goes). Prints JSON: per layer entries, added, changed
(content, metadata), removed, whiteouts, fileBytes, keptBytes, wastedBytes,
tarBytes; the image's totals.

    analyse-model.py LAYER_BLOB...
"""
import gzip
import io
import json
import sys
import tarfile


class Entry:
    def __init__(self, layer, kind, size):
        self.layer = layer
        self.kind = kind
        self.size = size
        self.linked = False


def normal(name):
    while name.startswith("./") or name.startswith("/"):
        name = name[2:] if name.startswith("./") else name[1:]
    return name.rstrip("/")


def figures():
    return {"entries": 0, "added": 0, "changed": {"content": 0, "metadata": 0}, "removed": 0,
            "whiteouts": 0, "fileBytes": 0, "keptBytes": 0, "wastedBytes": 0, "tarBytes": 0}


def main(blobs):
    state = {"": Entry(-1, "dir", 0)}
    layers = [figures() for _ in blobs]
    deferred = {}

    def gave_way(entry, how, current):
        if how == "removed" and entry.layer != current:
            layers[current]["removed"] += 1
        if entry.kind != "file":
            return
        if entry.linked:
            deferred[id(entry)] = entry
        else:
            layers[entry.layer]["wastedBytes"] += entry.size

    def below(path):
        prefix = path + "/" if path else ""
        return [p for p in state if p != path and p.startswith(prefix)]

    def remove_tree(path, how, current):
        for p in sorted(below(path), key=len, reverse=True):
            gave_way(state.pop(p), "removed", current)
        gave_way(state.pop(path), how, current)

    def remove_lower(path, written, current):
        for p in sorted(below(path) + [path], key=len, reverse=True):
            if p not in state:
                continue
            kept = p in written or any(w.startswith(p + "/") for w in written)
            if not kept:
                remove_tree(p, "removed", current)

    for current, blob in enumerate(blobs):
        with open(blob, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        layers[current]["tarBytes"] = len(data)
        written = set()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                fig = layers[current]
                fig["entries"] += 1
                name = normal(member.name)
                parent, _, base = name.rpartition("/")
                if base == ".wh..wh..opq":
                    fig["whiteouts"] += 1
                    if state.get(parent) is not None and state[parent].kind == "dir":
                        for child in [p for p in below(parent) if "/" not in p[len(parent) + 1 if parent else 0:]]:
                            remove_lower(child, written, current)
                    continue
                if base.startswith(".wh."):
                    fig["whiteouts"] += 1
                    target = (parent + "/" if parent else "") + base[4:]
                    if target in state:
                        remove_lower(target, written, current)
                    continue
                # Implied parents.
                parts = name.split("/")
                for i in range(1, len(parts)):
                    p = "/".join(parts[:i])
                    if p not in state:
                        state[p] = Entry(-1, "dir", 0)
                kind = ("dir" if member.isdir() else "file" if member.isreg() else
                        "hardlink" if member.islnk() else "symlink" if member.issym() else "other")
                if kind == "file":
                    fig["fileBytes"] += member.size
                existing = state.get(name)
                met = None
                if existing is not None:
                    met = ("updated" if kind == "dir" and existing.kind == "dir" else "replaced",
                           existing.layer)
                if kind == "dir" and existing is not None and existing.kind == "dir":
                    state[name] = Entry(current, "dir", 0)
                else:
                    if existing is not None:
                        remove_tree(name, "replaced", current)
                    if kind == "hardlink":
                        shared = state[normal(member.linkname)]
                        shared.linked = True
                        deferred.pop(id(shared), None)
                        state[name] = shared
                    else:
                        state[name] = Entry(current, kind, member.size if kind == "file" else 0)
                written.add(name)
                if met is None or met[1] == -1 or met[1] == current:
                    fig["added"] += 1
                elif met[0] == "updated":
                    fig["changed"]["metadata"] += 1
                else:
                    fig["changed"]["content"] += 1
    seen = set()
    for entry in state.values():
        if entry.kind != "file" or id(entry) in seen:
            continue
        seen.add(id(entry))
        deferred.pop(id(entry), None)
        layers[entry.layer]["keptBytes"] += entry.size
    for entry in deferred.values():
        layers[entry.layer]["wastedBytes"] += entry.size
    file_bytes = sum(l["fileBytes"] for l in layers)
    kept = sum(l["keptBytes"] for l in layers)
    print(json.dumps({"layers": layers, "totals": {
        "fileBytes": file_bytes, "keptBytes": kept, "wastedBytes": file_bytes - kept,
        "tarBytes": sum(l["tarBytes"] for l in layers), "entries": len(state)}}))


if __name__ == "__main__":
    main(sys.argv[1:])
