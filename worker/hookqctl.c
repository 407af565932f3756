/* hookqctl: placeholder until the queue lands. */
#include <stdio.h>
int main(void)
{
    puts("hookqctl");
    return 0;
}
