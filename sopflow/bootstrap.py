"""The one place that wires adapters to the core: settings, SOP catalogue, store, channels."""

from __future__ import annotations

from functools import lru_cache

from sopflow.settings import Settings
from sopflow.sop_files import SopCatalogue, shipped_sop_dir


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()


def file_catalogue(cfg: Settings | None = None) -> SopCatalogue:
    """The shipped SOPs plus those in SOPFLOW_SOP_DIR."""
    cfg = cfg or settings()
    dirs = [shipped_sop_dir()]
    if cfg.sop_dir is not None and cfg.sop_dir.resolve() != dirs[0].resolve():
        dirs.append(cfg.sop_dir)
    return SopCatalogue.from_dirs(dirs)


def catalogue() -> SopCatalogue:
    """Every SOP version this installation knows (files; published versions join later)."""
    return file_catalogue()
