"""The model pages a person reads in a browser: ``/ui/models`` and ``/ui/models/{model}``."""

from api.ui.pages import router

__all__ = ["router"]
