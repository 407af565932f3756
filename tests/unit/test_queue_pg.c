#include "hqtest.h"
int main(int argc, char **argv) { return hqtest_main(argc, argv); }
