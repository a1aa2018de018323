"""Access control of a product as a whole: its Cedar decisions and what a reader sees of each port.

:class:`AccessControl` answers, for a principal and a product, whether it may
do an action (the Cedar :class:`~daap.mesh.policy.cedar.PolicyEngine`) and,
for a port it may read, the :class:`~daap.mesh.policy.restrict.Restriction`
(row filters and masks of the product's ``access.yaml``) the query path puts
in place of the port. Restrictions are cached per principal, port, policy
version and ``access.yaml`` content; an edited file counts from the next query.

The ``hash`` mask's key is the mesh's secret: ``DAAP_MASK_KEY`` if set, else
``<home>/mask.key``, made on first use (32 random bytes, readable by its owner
only). Every product of the mesh hashes with it, so hashed values still join.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daap.errors import ConfigError
from daap.mesh.policy.cedar import Decision, PolicyEngine, file_signature, principal_key
from daap.mesh.policy.policies import column_classifications
from daap.mesh.policy.restrict import Restriction, compile_restriction, hash_key_of
from daap.spec.access import AccessSpec, access_path, load_access, mask_for
from daap.spec.mesh import MeshConfig, PrincipalSpec
from daap.spec.model import ProductSpec

KEY_VARIABLE = "DAAP_MASK_KEY"
#: what a request without a token may be allowed: a policy that permits every principal makes a
#: product public
ANONYMOUS_ACTIONS = ("discover", "read")
#: the role of a product reading another product (see :func:`product_principal`)
PRODUCT_ROLE = "product"
KEY_FILE = "mask.key"


@dataclass(frozen=True)
class _AccessFile:
    signature: tuple[int, ...] | None
    spec: AccessSpec


class AccessControl:
    """Decisions and restrictions for every product of a workspace (thread-safe).

    Args:
        home: the workspace's home, where the mask key is kept.
        mesh_masks: ``masks:`` of ``mesh.yaml``.
        engine: the Cedar engine (one is made if not given).
        env: environment variables (``os.environ`` if not given).
    """

    MAX_RESTRICTIONS = 4096

    def __init__(
        self,
        home: Path,
        mesh_masks: Mapping[str, str] | None = None,
        engine: PolicyEngine | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = home
        self.mesh_masks = dict(mesh_masks or {})
        self.engine = engine or PolicyEngine()
        self._env = os.environ if env is None else env
        self._files: dict[Path, _AccessFile] = {}
        self._restrictions: dict[tuple[Any, ...], Restriction] = {}
        self._lock = threading.Lock()
        self._key: str | None = None

    @classmethod
    def for_mesh(cls, config: MeshConfig, engine: PolicyEngine | None = None) -> AccessControl:
        return cls(config.home, config.masks, engine)

    def decide(
        self, principal: PrincipalSpec, product: ProductSpec, action: str, classification: str | None = None
    ) -> Decision:
        """The Cedar decision; an anonymous caller may at most ``discover`` and ``read`` (public read),
        whatever the policies say about other actions."""
        if principal.kind == "anonymous" and action not in ANONYMOUS_ACTIONS:
            return Decision(False, (), (f"a request without a token may not {action}",))
        return self.engine.decide(principal, product, action, classification)

    def access(self, product: ProductSpec) -> AccessSpec:
        """The product's ``access.yaml``, read again when it changed.

        Raises:
            SpecError: the file is not valid (a reader then sees nothing: the query fails).
        """
        path = access_path(product.folder)
        signature = file_signature(str(path))
        known = self._files.get(path)
        if known is not None and known.signature == signature and signature is not None:
            return known.spec
        spec = load_access(product.folder, f"{product.name}/{path.name}")
        with self._lock:
            self._files[path] = _AccessFile(signature, spec)
        return spec

    def restriction(self, principal: PrincipalSpec, product: ProductSpec, port: str) -> Restriction:
        """What ``principal`` sees of ``product.port``: the filters that hold for it and the masks.

        Raises:
            NotFound-free: ``port`` must be an output port of ``product``.
            FilterError: a filter's condition cannot be compiled (nothing is read).
            SpecError: ``access.yaml`` is invalid.
        """
        access = self.access(product)
        output = product.output_port(port)
        if output is None:
            return Restriction(product.name, port)
        version = self.engine.policy_version(product)
        read = self._files.get(access_path(product.folder))
        signature = read.signature if read is not None else None
        key = (principal_key(principal), product.folder, port, version, signature, output.contract.columns)
        found = self._restrictions.get(key)
        if found is not None:
            return found
        exempt = self.decide(principal, product, "administer").allowed
        unmasked = {
            c: self.decide(principal, product, "read_unmasked", c).allowed for c in _port_classes(output)
        }
        restriction = compile_restriction(
            product.name,
            output,
            access,
            principal,
            exempt=exempt,
            unmasked=unmasked,
            mesh_masks=self.mesh_masks,
            hash_key=self.hash_key(),
        )
        with self._lock:
            if len(self._restrictions) >= self.MAX_RESTRICTIONS:
                self._restrictions.clear()
            self._restrictions[key] = restriction
        return restriction

    def explain(self, principal: PrincipalSpec, product: ProductSpec) -> dict[str, Any]:
        """:meth:`PolicyEngine.explain` plus, per output port, the row filters and masks that apply."""
        found = self.engine.explain(principal, product)
        access = self.access(product)
        exempt = self.decide(principal, product, "administer").allowed
        reads = self.decide(principal, product, "read").allowed
        ports = []
        for port in product.output_ports:
            restriction = self.restriction(principal, product, port.name) if reads else None
            filters = []
            for rule in access.filters_for(port.name):
                applies = restriction is not None and rule.name in restriction.filters
                why = (
                    "applies"
                    if applies
                    else "exempt: may administer the product"
                    if exempt
                    else f"exempt: role {sorted(set(rule.exempt) & set(principal.roles))[0]}"
                    if set(rule.exempt) & set(principal.roles)
                    else "no read access"
                )
                filters.append({"name": rule.name, "where": rule.where, "applies": applies, "why": why})
            masks = []
            for column in port.contract.columns:
                mask = mask_for(port.name, column, access, self.mesh_masks)
                classes = sorted(set(column_classifications(column)))
                if (mask == "none" and not column.nested) or (not classes and mask == "none"):
                    continue
                applied = restriction.masks.get(column.name) if restriction is not None else None
                masks.append({
                    "column": column.name,
                    "classification": column.classification or (", ".join(classes) or None),
                    "mask": applied or mask,
                    "applies": applied is not None,
                })  # fmt: skip
            ports.append({"port": port.name, "row_filters": filters, "masks": masks})
        found["access_file"] = access.path
        found["ports"] = ports
        return found

    def hash_key(self) -> str:
        """The ``hash`` mask's key (see the module's docstring)."""
        if self._key is None:
            self._key = hash_key_of(self._secret())
        return self._key

    def _secret(self) -> bytes:
        given = self._env.get(KEY_VARIABLE)
        if given:
            return given.encode()
        path = self.home / KEY_FILE
        try:
            return _key(path)
        except FileNotFoundError:
            pass
        self.home.mkdir(parents=True, exist_ok=True)
        made = secrets.token_bytes(32)
        fd, tmp = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=self.home)  # 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(made)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)  # appears whole, or not at all
        except FileExistsError:  # another process made it first: use theirs
            return _key(path)
        finally:
            os.unlink(tmp)
        return made


def _key(path: Path) -> bytes:
    """The mask key in ``path``.

    Raises:
        FileNotFoundError: there is none yet.
        ConfigError: it cannot be read, or it is empty (a key of nothing would hash guessably).
    """
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read the mask key {path}: {exc}") from exc
    if not secret:
        raise ConfigError(
            f"the mask key {path} is empty",
            hint=f"delete it to have a new one made, or set {KEY_VARIABLE}; hashed values change with it",
        )
    return secret


def product_principal(product: ProductSpec) -> PrincipalSpec:
    """A product reading another one's port, as the principal the other's policies decide about:
    kind ``service``, role ``product``, its domain, and its team as the attribute ``team``."""
    attributes = {"team": product.team} if product.team else {}
    return PrincipalSpec(product.name, "service", (PRODUCT_ROLE,), product.domain, (), attributes, "product")


def _port_classes(port: Any) -> tuple[str, ...]:
    found: set[str] = set()
    for column in port.contract.columns:
        found.update(column_classifications(column))
    return tuple(sorted(found))


__all__ = ["KEY_FILE", "KEY_VARIABLE", "PRODUCT_ROLE", "AccessControl", "product_principal"]
