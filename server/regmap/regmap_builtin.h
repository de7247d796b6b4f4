/*
 * regmap_builtin: the text of the register maps compiled in from
 * server/regmap/maps/NAME.map (the build generates regmap_maps.c with
 * cmake/EmbedRegmaps.cmake). Internal to regmap.c and its tests.
 */
#ifndef SMARTMETER_REGMAP_BUILTIN_H
#define SMARTMETER_REGMAP_BUILTIN_H

/* The NUL-terminated text of maps/name.map, or NULL when there is none. Static storage. */
const char *regmap_builtin_text(const char *name);

#endif
