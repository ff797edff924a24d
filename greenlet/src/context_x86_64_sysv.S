// grove's context switch for x86-64 System V (Linux): the native alternative to Boost.Context's
// fcontext, with the same contract (see context.hpp).
//
// Why not jump_fcontext: it leaves with `pop %r8; jmp *%r8`, so the CPU's return-stack
// predictor keeps the entry pushed by the `call` and every later `ret` on the resumed stack
// is predicted one frame off: two mispredicted returns per round trip, which is most of the
// cost of a scheduler's yield. This routine leaves with `ret`, so a context resumed at the same
// call site as the one that left (green threads running the same code) is predicted exactly.
//
// Saved: the callee-saved integer registers (rbx, rbp, r12-r15) and the return address.
// Not saved: MXCSR and the x87 control word. The floating-point environment belongs to the OS
// thread and is shared by its green threads (restoring it costs as much as the rest of the
// switch); build with -DGROVE_GREEN_CONTEXT=boost to give each green thread its own.

    .text

// The callee-saved registers, in the order grove_make_context lays them out.
.macro SAVE_CALLEE_SAVED
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    pushq   %r12
    .cfi_adjust_cfa_offset 8
.endm

.macro RESTORE_CALLEE_SAVED
    popq    %r12
    popq    %r13
    popq    %r14
    popq    %r15
    popq    %rbx
    popq    %rbp
.endm

// Transfer grove_jump_context(void* to, void* data)
//   Suspends the caller on its own stack and resumes `to`. The resumed side receives
//   {the caller's context, data} in rax:rdx, as the return value of its own
//   grove_jump_context, or as the argument of its entry function on first resumption.
    .globl  grove_jump_context
    .hidden grove_jump_context
    .type   grove_jump_context, @function
    .p2align 4
grove_jump_context:
    .cfi_startproc
    SAVE_CALLEE_SAVED
    movq    %rsp, %rax          // the suspended caller: its saved registers sit here
    movq    %rdi, %rsp          // the resumed context
    RESTORE_CALLEE_SAVED
    movq    %rsi, %rdx          // data
    ret
    .cfi_endproc
    .size   grove_jump_context, .-grove_jump_context

// Transfer grove_start_context(void* to, void* data)
//   grove_jump_context for the first resumption of a context made by grove_make_context. It
//   enters the new context with a jump rather than `ret`, so the return address the caller's
//   call pushed stays on the CPU's return stack, and grove_context_start leaves the finished
//   context with the `ret` that consumes it: when the caller is the one resumed then (a
//   join), its returns are all predicted. (Entering with grove_jump_context works too.)
    .globl  grove_start_context
    .hidden grove_start_context
    .type   grove_start_context, @function
    .p2align 4
grove_start_context:
    .cfi_startproc
    SAVE_CALLEE_SAVED
    movq    %rsp, %rax
    movq    %rdi, %rsp
    RESTORE_CALLEE_SAVED
    movq    %rsi, %rdx
    addq    $8, %rsp            // the return-address slot, used when entered by `ret`
    jmp     grove_context_start
    .cfi_endproc
    .size   grove_start_context, .-grove_start_context

// void* grove_make_context(void* top, size_t size, Transfer (*entry)(Transfer))
//   Lays out a context on the stack below `top` whose first resumption calls entry(transfer)
//   through grove_context_start. When entry returns {next, data}, the finished context is
//   left for good and `next` resumes with {nullptr, data}.
    .globl  grove_make_context
    .hidden grove_make_context
    .type   grove_make_context, @function
    .p2align 4
grove_make_context:
    .cfi_startproc
    movq    %rdi, %rax
    andq    $-16, %rax          // 16-byte aligned top
    leaq    -72(%rax), %rax     // 6 registers, the return address, and 16 bytes so that
                                // grove_context_start calls entry with an aligned stack
    movq    $0, 0(%rax)         // r12
    movq    $0, 8(%rax)         // r13
    movq    $0, 16(%rax)        // r14
    movq    $0, 24(%rax)        // r15
    movq    %rdx, 32(%rax)      // rbx: entry
    movq    $0, 40(%rax)        // rbp: 0 ends frame-pointer walks here
    leaq    grove_context_start(%rip), %rcx
    movq    %rcx, 48(%rax)      // the return address, when entered by grove_jump_context
    movq    $0, 56(%rax)
    movq    $0, 64(%rax)
    ret
    .cfi_endproc
    .size   grove_make_context, .-grove_make_context

// First resumption of a context: rax:rdx hold the transfer, rbx the entry function, and the
// stack is 16-byte aligned.
    .type   grove_context_start, @function
    .p2align 4
grove_context_start:
    .cfi_startproc
    .cfi_undefined rip          // the outermost frame: unwinders and debuggers stop here
    movq    %rax, %rdi
    movq    %rdx, %rsi
    callq   *%rbx               // returns {the context to resume, data}
    movq    %rax, %rsp          // leave this finished context without saving it
    RESTORE_CALLEE_SAVED
    xorl    %eax, %eax          // nothing to come back to
    ret
    .cfi_endproc
    .size   grove_context_start, .-grove_context_start

    .section .note.GNU-stack, "", @progbits
