// SPDX-License-Identifier: GPL-2.0
/*
 * A C++ program for the demangler's test: shapes::Cache::grow(unsigned long) keeps 100 rows of
 * 10000 bytes, each allocated by std::vector<unsigned char>::_M_default_append (resize) through
 * operator new(unsigned long). Built -O0 so those functions keep frames of their own.
 *   cxx_target
 * prints "ready PID", waits for SIGUSR1, grows the cache, prints "done", waits for SIGUSR1 or
 * SIGTERM.
 */
#include <vector>
#include "handshake.h"

namespace shapes
{
struct Cache {
	std::vector<std::vector<unsigned char>> rows;

	void grow(unsigned long row_bytes)
	{
		rows.reserve(100);
		for (int i = 0; i < 100; i++) {
			rows.emplace_back();
			rows.back().resize(row_bytes);
		}
	}
};
} // namespace shapes

int main()
{
	shapes::Cache cache;

	handshake_begin();
	handshake_say_and_wait("ready", 1);
	cache.grow(10000);
	handshake_say_and_wait("done", 0);
	return 0;
}
