"""A Line API widget that draws all its lines in one pass, and only when they would change.

Textual asks for a widget's lines one at a time (`render_line`), and asks again for every
line whenever the widget is repainted, whatever the reason. The dashboard's panels share
most of the work between their lines (column widths, styles, the rows on screen), so
`DrawnLines` draws the whole widget at once into a list of strips and keeps it until what
the lines depend on changes: the subclass's `draw_key`, the size, or the styles (a refresh
or a style update). A repaint with nothing new then costs a lookup per line.

The lines as painted (with the border, its titles and the background) are kept the same way
(`KeptPaint`): Textual drops its own copy of those whenever the screen is painted in full (a
resize, a screen switch), and styling every line again is most of a panel's cost.
"""

from __future__ import annotations

from typing import Self

from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["DrawnLines", "KeptPaint"]


class KeptPaint(Widget):
    """A widget whose painted lines are kept until what they are painted from changes.

    That is: `paint_key` (the content; None for a widget that refreshes when its content
    changes), the crop and size, the border titles, the colours behind it, its opacity, the
    app's line filters and ANSI theme. Its own styles and the ancestors' CSS reach it as a
    style update, and a refresh is a new content: both drop what was kept.
    """

    _painted_key: object = None
    _painted: tuple[Strip, ...] = ()

    def paint_key(self) -> object:
        """What the content lines show, besides the size and the styles."""
        return None

    def forget_painting(self) -> None:
        """Paint again at the next repaint (subclasses drop their own kept lines too)."""
        self._painted_key = None

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if repaint:
            self.forget_painting()
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def notify_style_update(self) -> None:
        self.forget_painting()
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        # All that Textual paints the lines with (`StylesCache.render_widget`).
        app = self.app
        key = (
            self.paint_key(),
            crop,
            self.region.size,
            self._border_title,
            self._border_subtitle,
            self.background_colors,
            self.opacity,
            self.hover_style,
            tuple(map(id, app.get_line_filters())),
            app.ansi_theme,
        )
        if key != self._painted_key:
            self._painted = tuple(super().render_lines(crop))
            self._painted_key = key
        return list(self._painted)


class DrawnLines(KeptPaint):
    """Base of the dashboard's Line API panels: subclasses implement `draw_key` and `draw`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn_key: object = None
        self._drawn: list[Strip] = []
        self._painting: list[Strip] | None = None
        self._borders: tuple[str | None, str | None] = (None, None)
        self._styles: dict[str, tuple[object, Style]] = {}

    def draw_key(self) -> object:
        """Everything the lines show besides the size and the styles (equal: same lines)."""
        raise NotImplementedError

    def draw(self, width: int, height: int) -> list[Strip]:
        """All the lines at this size, each exactly `width` cells."""
        raise NotImplementedError

    def part_style(self, name: str) -> Style:
        """The Rich style of component class `name`, as `get_component_rich_style` gives it.

        Textual forgets its copy at every refresh, and working one out walks the ancestors.
        This one is kept while the component's styles are the same object: the stylesheet
        makes new ones whenever it applies CSS to this widget (a class, focus or theme
        change, or a change above it, which is applied to the descendants too).
        """
        source = self._component_styles.get(name)
        kept = self._styles.get(name)
        if kept is not None and kept[0] is source:
            return kept[1]
        style = self.get_component_rich_style(name)
        self._styles[name] = (source, style)
        return style

    def set_borders(self, title: str, subtitle: str | None = None) -> None:
        """Set the border title and subtitle, each only if it changed: setting one parses
        its markup and repaints the whole widget, even when the text is the same."""
        old_title, old_subtitle = self._borders
        if title != old_title:
            self.border_title = title
        if subtitle is not None and subtitle != old_subtitle:
            self.border_subtitle = subtitle
        self._borders = (title, subtitle if subtitle is not None else old_subtitle)

    def drawn_lines(self) -> list[Strip]:
        """The lines as they show now, drawn again only if something they depend on moved."""
        width, height = self.size
        key = (self.draw_key(), width, height)
        if key != self._drawn_key:
            self._drawn = self.draw(width, height)
            self._drawn_key = key
        return self._drawn

    def forget_painting(self) -> None:
        # The panels refresh when their data moved, and Textual refreshes a widget whose
        # component styles changed: either way, draw again.
        self._drawn_key = None
        super().forget_painting()

    def notify_style_update(self) -> None:
        # New CSS, theme, class or focus state: the same content may be coloured otherwise.
        self._styles.clear()
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        # One check of the key per repaint, not one per line.
        self._painting = self.drawn_lines()
        try:
            return super().render_lines(crop)
        finally:
            self._painting = None

    def paint_key(self) -> object:
        return self._drawn_key  # set by `drawn_lines`, just before painting

    def render_line(self, y: int) -> Strip:
        lines = self._painting if self._painting is not None else self.drawn_lines()
        if 0 <= y < len(lines):
            return lines[y]
        return Strip.blank(self.size.width)
