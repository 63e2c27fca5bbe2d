// SPDX-License-Identifier: Apache-2.0
// Start-up code for running the firmware examples on an Arm MPS2 board (and
// on QEMU's models of it: mps2-an386 = Cortex-M4, mps2-an500 = Cortex-M7).
//
// What a vendor's start-up file does, in the least code that does it: the
// vector table (initial stack pointer and reset handler; every fault ends
// the program with a failure status instead of hanging), copying .data from
// flash to RAM, zeroing .bss, enabling the FPU (a hard-float program faults
// on its first float instruction otherwise), running static constructors,
// calling main().
//
// Output and exit use Arm semihosting (BKPT 0xAB): a debugger or QEMU
// (-semihosting) carries the characters to the host and ends the session with
// main's status. On a board with no debugger attached BKPT would fault, so a
// real product replaces tern_putchar and program_exit with its UART and a
// reset.
#include <cstdint>

extern "C" {
// Linker script symbols (examples/firmware/mps2.ld).
extern std::uint32_t __data_load[], __data_start[], __data_end[];
extern std::uint32_t __bss_start[], __bss_end[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
extern char __stack_top[];

int main();
void Reset_Handler();
void Fault_Handler();
}

namespace {

// Semihosting call: operation in r0, argument in r1, result in r0.
std::uint32_t semihost(std::uint32_t op, const void* arg) {
  register std::uint32_t r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

constexpr std::uint32_t kSysWritec = 0x03;
constexpr std::uint32_t kSysExit = 0x18;
constexpr std::uint32_t kApplicationExit = 0x20026;      // ADP_Stopped_ApplicationExit
constexpr std::uint32_t kRunTimeErrorUnknown = 0x20023;  // any other reason: host exit status 1

[[noreturn]] void program_exit(int status) {
  // AArch32 SYS_EXIT passes the reason itself; QEMU maps ApplicationExit to
  // exit status 0 and every other reason to 1.
  semihost(kSysExit, reinterpret_cast<const void*>(
                         static_cast<std::uintptr_t>(status == 0 ? kApplicationExit
                                                                 : kRunTimeErrorUnknown)));
  for (;;) {
  }
}

}  // namespace

extern "C" void tern_putchar(char c) { semihost(kSysWritec, &c); }

extern "C" void Fault_Handler() { program_exit(1); }

// The heap has zero bytes. newlib-nano's vsnprintf (behind tern::Status
// messages) references malloc for asprintf's growing buffers, so malloc's
// code is linked, but tern never allocates: should anything try, the program
// says so and fails instead of carving memory out of the stack.
extern "C" void* _sbrk(int) {
  for (const char* m = "FAILED: heap allocation attempted\n"; *m; ++m) tern_putchar(*m);
  program_exit(1);
}

extern "C" void Reset_Handler() {
  for (std::uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (std::uint32_t* dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  // CPACR (0xE000ED88): full access to coprocessors 10 and 11, the FPU.
  volatile std::uint32_t* cpacr = reinterpret_cast<volatile std::uint32_t*>(0xE000ED88u);
  *cpacr = *cpacr | (0xFu << 20);
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  for (void (**ctor)() = __init_array_start; ctor < __init_array_end; ++ctor) (*ctor)();
  program_exit(main());
}

// The Cortex-M vector table: initial SP, then the exception handlers. No
// interrupt is ever enabled, so the table stops after SysTick.
struct VectorTable {
  void* initial_sp;
  void (*handlers[15])();
};
__attribute__((section(".vectors"), used)) extern const VectorTable g_vectors = {
    __stack_top,
    {
        Reset_Handler,  // Reset
        Fault_Handler,  // NMI
        Fault_Handler,  // HardFault
        Fault_Handler,  // MemManage
        Fault_Handler,  // BusFault
        Fault_Handler,  // UsageFault
        nullptr, nullptr, nullptr, nullptr,
        Fault_Handler,  // SVCall
        Fault_Handler,  // DebugMonitor
        nullptr,
        Fault_Handler,  // PendSV
        Fault_Handler,  // SysTick
    },
};
