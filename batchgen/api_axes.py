"""Request models of labelled grid axes (``axes`` in a BatchRequest); the logic is in batchgen/axes.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

MAX_AXIS_TITLE = 200
MAX_LABEL = 200


class _AxisModel(BaseModel):
    """Unknown fields are errors (BatchRequest's codes name them: invalid_axes)."""

    model_config = ConfigDict(extra="forbid")


class Axis(_AxisModel):
    """One axis: a bound parameter and its values (a list, or a range), each with a display label."""

    param: Annotated[str, Field(strict=True, min_length=1, max_length=200)] = Field(description="A parameter of the template, e.g. cfg.")
    values: list[Any] | None = Field(None, description="The axis values, in order (give values or range).")
    range: Annotated[str, Field(strict=True, max_length=200)] | None = Field(
        None, description='"1..10" (integers, step 1), "0.5..2.0 step 0.5" (exact decimal steps), "10..1 step -3"; both ends inclusive.')
    labels: list[Annotated[str, Field(strict=True, max_length=MAX_LABEL)]] | None = Field(
        None, description="One display label per value (any script); default: the value as written.")
    name: Annotated[str, Field(strict=True, max_length=MAX_AXIS_TITLE)] | None = Field(
        None, description="The axis title on the contact sheet; default: the parameter name.")


class AxisZip(_AxisModel):
    """Axes that move together: value i of each axis makes one step of this one grid dimension."""

    zip: Annotated[list[Axis], Field(min_length=2, max_length=16)] = Field(description="Two or more axes with the same number of values.")
    name: Annotated[str, Field(strict=True, max_length=MAX_AXIS_TITLE)] | None = Field(
        None, description="The dimension's title; default: the titles of its axes joined with ' / '.")


AxisEntry = Axis | AxisZip
AXES_DESCRIPTION = ("Labelled grid dimensions, each combined with every other (cartesian): the first is the contact sheet's "
                    "columns (X), the second its rows (Y), the others make pages. An entry is an axis or {zip: [axis, ...]}.")
