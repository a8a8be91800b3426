"""Shape and plumbing shared by every service: lifecycle, HTTP admin helpers, errors."""

from services.common.base import Service
from services.common.errors import FieldError, PortInUseError
from services.common.http import json_error, start_site

__all__ = ["FieldError", "PortInUseError", "Service", "json_error", "start_site"]
