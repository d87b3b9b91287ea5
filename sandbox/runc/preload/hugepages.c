// racelab's preload library for the programs of its containers; see
// hugepages.go. A race binary's static data is some 15 MiB of zeros that
// the race runtime writes over as it starts: thousands of page faults
// with 4 KiB pages. Before the program's own code runs, this asks the
// kernel to back that data with huge pages (MADV_HUGEPAGE), which a host
// whose transparent huge pages are set to "madvise" then does for this
// range alone. It changes nothing else, and fails silently: a kernel
// without transparent huge pages runs the program as before.
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

// advise marks the zero-filled end of each writable segment of the main
// program, the first object the dynamic loader lists (its name is empty).
static int advise(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	(void)data;
	if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0') {
		return 1;
	}
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || !(p->p_flags & PF_W) || p->p_memsz <= p->p_filesz) {
			continue;
		}
		uintptr_t start = info->dlpi_addr + p->p_vaddr + p->p_filesz;
		uintptr_t end = info->dlpi_addr + p->p_vaddr + p->p_memsz;
		start = (start + page - 1) & ~(page - 1);
		end &= ~(page - 1);
		if (end > start) {
			madvise((void *)start, end - start, MADV_HUGEPAGE);
		}
	}
	return 1;
}

__attribute__((constructor)) static void racelab_hugepages(void) {
	dl_iterate_phdr(advise, NULL);
}
